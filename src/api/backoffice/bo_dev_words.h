/*
 * bo_dev_words.h - rows of bo_i18n.c's table for the developers' page's API
 * keys, signing-secret rolls and request log (included inside bo_words[]).
 */
{"API keys", {"API-Schlüssel", "Clés d'API", "API-avaimet", "API-nycklar"}},
    {"Already done: this form was sent before. The key was shown then.",
     {"Bereits erledigt: Dieses Formular wurde schon gesendet. Der Schlüssel wurde damals "
      "angezeigt.",
      "Déjà fait : ce formulaire a déjà été envoyé. La clé a été affichée à ce moment-là.",
      "Jo tehty: tämä lomake lähetettiin jo. Avain näytettiin silloin.",
      "Redan gjort: formuläret har redan skickats. Nyckeln visades då."}},
    {"Already done: this form was sent before. The secret was shown then.",
     {"Bereits erledigt: Dieses Formular wurde schon gesendet. Das Geheimnis wurde damals "
      "angezeigt.",
      "Déjà fait : ce formulaire a déjà été envoyé. Le secret a été affiché à ce moment-là.",
      "Jo tehty: tämä lomake lähetettiin jo. Salaisuus näytettiin silloin.",
      "Redan gjort: formuläret har redan skickats. Hemligheten visades då."}},
    {"Create a secret key",
     {"Geheimen Schlüssel erstellen", "Créer une clé secrète", "Luo salainen avain",
      "Skapa en hemlig nyckel"}},
    {"Create key", {"Schlüssel erstellen", "Créer la clé", "Luo avain", "Skapa nyckel"}},
    {"ECommPay callback URL",
     {"ECommPay-Callback-URL", "URL de rappel ECommPay", "ECommPayn takaisinkutsu-URL",
      "ECommPays återanrops-URL"}},
    {"Enter your password or a current authentication code again to change API keys; nothing was "
     "changed.",
     {"Geben Sie Ihr Passwort oder einen aktuellen Authentifizierungscode erneut ein, um "
      "API-Schlüssel "
      "zu ändern; es wurde nichts geändert.",
      "Saisissez à nouveau votre mot de passe ou un code d'authentification actuel pour modifier "
      "les "
      "clés d'API ; rien n'a été modifié.",
      "Anna salasanasi tai voimassa oleva tunnistuskoodi uudelleen muuttaaksesi API-avaimia; "
      "mitään "
      "ei muutettu.",
      "Ange ditt lösenord eller en aktuell autentiseringskod igen för att ändra API-nycklar; inget "
      "ändrades."}},
    {"In 1 hour", {"In 1 Stunde", "Dans 1 heure", "Tunnin kuluttua", "Om 1 timme"}},
    {"In 24 hours", {"In 24 Stunden", "Dans 24 heures", "24 tunnin kuluttua", "Om 24 timmar"}},
    {"In 7 days", {"In 7 Tagen", "Dans 7 jours", "7 päivän kuluttua", "Om 7 dagar"}},
    {"Key created.", {"Schlüssel erstellt.", "Clé créée.", "Avain luotu.", "Nyckeln har skapats."}},
    {"Key revoked: it no longer works.",
     {"Schlüssel widerrufen: Er funktioniert nicht mehr.",
      "Clé révoquée : elle ne fonctionne plus.", "Avain peruttu: se ei enää toimi.",
      "Nyckeln har återkallats: den fungerar inte längre."}},
    {"Key rolled: use the new key; the old one works until the time shown.",
     {"Schlüssel erneuert: Verwenden Sie den neuen; der alte funktioniert bis zur angezeigten "
      "Zeit.",
      "Clé renouvelée : utilisez la nouvelle ; l'ancienne fonctionne jusqu'à l'heure indiquée.",
      "Avain vaihdettu: käytä uutta; vanha toimii näytettyyn aikaan asti.",
      "Nyckeln har bytts: använd den nya; den gamla fungerar till den visade tiden."}},
    {"Key", {"Schlüssel", "Clé", "Avain", "Nyckel"}},
    {"Last used",
     {"Zuletzt verwendet", "Dernière utilisation", "Viimeksi käytetty", "Senast använd"}},
    {"Mode", {"Modus", "Mode", "Tila", "Läge"}}, {"Name", {"Name", "Nom", "Nimi", "Namn"}},
    {"New signing secret",
     {"Neues Signaturgeheimnis", "Nouveau secret de signature", "Uusi allekirjoitusavain",
      "Ny signeringshemlighet"}},
    {"No keys yet.",
     {"Noch keine Schlüssel.", "Aucune clé.", "Ei vielä avaimia.", "Inga nycklar ännu."}},
    {"None: callbacks go only to each payment's merchant_callback_url.",
     {"Keine: Callbacks gehen nur an die merchant_callback_url der jeweiligen Zahlung.",
      "Aucune : les rappels ne vont qu'à la merchant_callback_url de chaque paiement.",
      "Ei asetettu: takaisinkutsut menevät vain kunkin maksun merchant_callback_url-osoitteeseen.",
      "Ingen: återanrop går bara till varje betalnings merchant_callback_url."}},
    {"Now", {"Sofort", "Maintenant", "Heti", "Nu"}},
    {"Password or authentication code",
     {"Passwort oder Authentifizierungscode", "Mot de passe ou code d'authentification",
      "Salasana tai tunnistuskoodi", "Lösenord eller autentiseringskod"}},
    {"Revoke now", {"Jetzt widerrufen", "Révoquer maintenant", "Peru nyt", "Återkalla nu"}},
    {"Roll the key", {"Schlüssel erneuern", "Renouveler la clé", "Vaihda avain", "Byt nyckel"}},
    {"Roll the secret",
     {"Geheimnis erneuern", "Renouveler le secret", "Vaihda salaisuus", "Byt hemlighet"}},
    {"Roll the signing secret…",
     {"Signaturgeheimnis erneuern…", "Renouveler le secret de signature…",
      "Vaihda allekirjoitusavain…", "Byt signeringshemlighet…"}},
    {"Roll…", {"Erneuern…", "Renouveler…", "Vaihda…", "Byt…"}},
    {"Secret key", {"Geheimer Schlüssel", "Clé secrète", "Salainen avain", "Hemlig nyckel"}},
    {"Set it with", {"Festlegen mit", "À définir avec", "Aseta komennolla", "Ange den med"}},
    {"Signing secret rolled.",
     {"Signaturgeheimnis erneuert.", "Secret de signature renouvelé.",
      "Allekirjoitusavain vaihdettu.", "Signeringshemligheten har bytts."}},
    {"Test mode: these keys and every payment made with them are test data; no real money moves.",
     {"Testmodus: Diese Schlüssel und alle damit getätigten Zahlungen sind Testdaten; es fließt "
      "kein "
      "echtes Geld.",
      "Mode test : ces clés et tous les paiements faits avec elles sont des données de test ; "
      "aucun "
      "argent réel ne circule.",
      "Testitila: nämä avaimet ja kaikki niillä tehdyt maksut ovat testidataa; oikeaa rahaa ei "
      "liiku.",
      "Testläge: dessa nycklar och alla betalningar gjorda med dem är testdata; inga riktiga "
      "pengar "
      "flyttas."}},
    {"The old key stops working",
     {"Der alte Schlüssel funktioniert nicht mehr", "L'ancienne clé cesse de fonctionner",
      "Vanha avain lakkaa toimimasta", "Den gamla nyckeln slutar fungera"}},
    {"The old secret stops signing",
     {"Das alte Geheimnis signiert nicht mehr", "L'ancien secret cesse de signer",
      "Vanha salaisuus lakkaa allekirjoittamasta", "Den gamla hemligheten slutar signera"}},
    {"The previous secret signs too until",
     {"Das vorige Geheimnis signiert mit bis", "L'ancien secret signe aussi jusqu'au",
      "Edellinen salaisuus allekirjoittaa myös asti", "Den förra hemligheten signerar också till"}},
    {"e.g. shop server",
     {"z. B. Shop-Server", "p. ex. serveur de la boutique", "esim. kaupan palvelin",
      "t.ex. butiksserver"}},
    {"never", {"nie", "jamais", "ei koskaan", "aldrig"}},
    {"works until", {"funktioniert bis", "fonctionne jusqu'au", "toimii asti", "fungerar till"}},
    {"active", {"aktiv", "active", "käytössä", "aktiv"}},
    {"expiring", {"läuft ab", "expire bientôt", "vanhenemassa", "upphör snart"}},
    {"expired", {"abgelaufen", "expirée", "vanhentunut", "har upphört"}},
    {"revoked", {"widerrufen", "révoquée", "peruttu", "återkallad"}},
    {"test", {"Test", "test", "testi", "test"}},
