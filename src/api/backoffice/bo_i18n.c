/*
 * bo_i18n.c - the back office's words. One table: the English text is the
 * key, each row gives its translations; a page asks bo_t(lang, "English")
 * and gets the English back when a language lacks the row. English and
 * German are complete; French, Finnish and Swedish fall back to English.
 */
#include "bo_int.h"

#include <string.h>

typedef struct {
    const char *en;
    const char *de;
} bo_word;

static const bo_word bo_words[] = {
    {"Webhook endpoints", "Webhook-Endpunkte"},
    {"URL", "URL"},
    {"enabled", "aktiv"},
    {"disabled", "deaktiviert"},
    {"Disable", "Deaktivieren"},
    {"Enable", "Aktivieren"},
    {"No endpoints yet.", "Noch keine Endpunkte."},
    {"Add an endpoint (every event)", "Endpunkt hinzufügen (alle Ereignisse)"},
    {"Add endpoint", "Endpunkt hinzufügen"},
    {"Recent events", "Letzte Ereignisse"},
    {"Replay every event below that was not delivered",
     "Alle unten nicht zugestellten Ereignisse erneut senden"},
    {"Event", "Ereignis"},
    {"Type", "Typ"},
    {"Deliveries", "Zustellungen"},
    {"Resend", "Erneut senden"},
    {"No events yet.", "Noch keine Ereignisse."},
    {"Developers", "Entwickler"},
    {"Signing secret", "Signaturgeheimnis"},
    {"Copy it now into your shop's configuration: it is shown only once.",
     "Kopieren Sie es jetzt in die Konfiguration Ihres Shops: Es wird nur einmal angezeigt."},
    {"Endpoint added.", "Endpunkt hinzugefügt."},
    {"Endpoint deleted.", "Endpunkt gelöscht."},
    {"Endpoint changed.", "Endpunkt geändert."},
    {"Event sent again.", "Ereignis erneut gesendet."},
    {"Undelivered events sent again.", "Nicht zugestellte Ereignisse erneut gesendet."},
    {"More filters", "Weitere Filter"},
    {"Signed out", "Abgemeldet"},
    {"Your session has ended. Sign in again; nothing was changed.",
     "Ihre Sitzung ist abgelaufen. Melden Sie sich erneut an; es wurde nichts geändert."},
    {"Sign in", "Anmelden"},
    {"Sign in to the back office", "Im Backoffice anmelden"},
    {"E-mail address", "E-Mail-Adresse"},
    {"Password", "Passwort"},
    {"Continue", "Weiter"},
    {"Authentication code", "Authentifizierungscode"},
    {"Enter the 6-digit code your authenticator app shows for Kassa, or one of your recovery "
     "codes.",
     "Geben Sie den 6-stelligen Code ein, den Ihre Authenticator-App für Kassa anzeigt, oder einen "
     "Ihrer Wiederherstellungscodes."},
    {"Code", "Code"},
    {"Start again", "Von vorn beginnen"},
    {"Recovery codes", "Wiederherstellungscodes"},
    {"Your recovery codes", "Ihre Wiederherstellungscodes"},
    {"Each code signs you in once when your authenticator app is not at hand. They are shown only "
     "now: write them down or print them.",
     "Jeder Code meldet Sie einmal an, wenn Ihre Authenticator-App nicht zur Hand ist. Sie werden "
     "nur jetzt angezeigt: Schreiben Sie sie auf oder drucken Sie sie aus."},
    {"Continue to the payments", "Weiter zu den Zahlungen"},
    {"Audit log", "Prüfprotokoll"},
    {"The chain is intact: every row is as it was written.",
     "Die Kette ist intakt: Jede Zeile ist so, wie sie geschrieben wurde."},
    {"The chain is broken:", "Die Kette ist unterbrochen:"},
    {"Filters", "Filter"},
    {"Object id", "Objekt-ID"},
    {"Action", "Aktion"},
    {"Person (e-mail)", "Person (E-Mail)"},
    {"Apply filters", "Filter anwenden"},
    {"Clear", "Zurücksetzen"},
    {"When", "Wann"},
    {"Who", "Wer"},
    {"Address", "Adresse"},
    {"Object", "Objekt"},
    {"Outcome", "Ergebnis"},
    {"Before → after", "Vorher → nachher"},
    {"Reason", "Grund"},
    {"No entries.", "Keine Einträge."},
    {"Older entries", "Ältere Einträge"},
    {"Language", "Sprache"},
    {"Skip to content", "Zum Inhalt springen"},
    {"Main", "Hauptmenü"},
    {"Payments", "Zahlungen"},
    {"Expiring soon", "Läuft bald ab"},
    {"Sign out", "Abmelden"},
    {"Test mode: sandbox data, no real money moves.",
     "Testmodus: Sandbox-Daten, es fließt kein echtes Geld."},
    {"Back", "Zurück"},
    {"Give an amount such as 25.00.", "Geben Sie einen Betrag wie 25.00 an."},
    {"Choose the lines that shipped.", "Wählen Sie die versandten Positionen."},
    {"Give an amount such as 25.00, or leave it empty to refund everything.",
     "Geben Sie einen Betrag wie 25.00 an oder lassen Sie das Feld leer, um alles zu erstatten."},
    {"Refunds this large need your password or a current authentication code.",
     "Erstattungen dieser Höhe erfordern Ihr Passwort oder einen aktuellen "
     "Authentifizierungscode."},
    {"Give a whole quantity (0 removes the line).",
     "Geben Sie eine ganze Menge an (0 entfernt die Position)."},
    {"Not found", "Nicht gefunden"},
    {"There is no such payment.", "Diese Zahlung gibt es nicht."},
    {"There is no such action.", "Diese Aktion gibt es nicht."},
    {"Not allowed", "Nicht erlaubt"},
    {"Your role may not do this. Nothing was changed.",
     "Ihre Rolle darf das nicht. Es wurde nichts geändert."},
    {"Tick the box to confirm.", "Setzen Sie das Häkchen zur Bestätigung."},
    {"This form is stale: reload the page.",
     "Dieses Formular ist veraltet: Laden Sie die Seite neu."},
    {"Summary", "Übersicht"},
    {"Amount", "Betrag"},
    {"Authorised", "Autorisiert"},
    {"Captured", "Eingezogen"},
    {"Refunded", "Erstattet"},
    {"Released", "Freigegeben"},
    {"Method", "Zahlungsart"},
    {"Dialect", "Schnittstelle"},
    {"Customer", "Kunde"},
    {"Country", "Land"},
    {"Klarna order id", "Klarna-Bestell-ID"},
    {"Provider reference", "Referenz des Anbieters"},
    {"Shop's payment id", "Zahlungs-ID des Shops"},
    {"Created", "Erstellt"},
    {"Authorisation expires", "Autorisierung läuft ab"},
    {"Order lines", "Bestellpositionen"},
    {"Item", "Artikel"},
    {"Quantity", "Menge"},
    {"Unit price", "Stückpreis"},
    {"Total", "Summe"},
    {"attempts", "Versuche"},
    {"Timeline", "Verlauf"},
    {"Reason (kept in the audit log)", "Grund (wird im Prüfprotokoll gespeichert)"},
    {"I confirm this action", "Ich bestätige diese Aktion"},
    {"Lines that shipped", "Versandte Positionen"},
    {"The whole shipping fee is captured with the first capture.",
     "Die gesamte Versandgebühr wird mit dem ersten Einzug eingezogen."},
    {"New expiry:", "Neues Ablaufdatum:"},
    {"It can never run past", "Es kann nie später sein als"},
    {"180 days after the payment was created", "180 Tage nach Erstellung der Zahlung"},
    {"Quantities (0 removes a line)", "Mengen (0 entfernt eine Position)"},
    {"Add a line", "Position hinzufügen"},
    {"A higher total needs Klarna's new decision; when Klarna refuses, nothing changes.",
     "Eine höhere Summe braucht eine neue Entscheidung von Klarna; lehnt Klarna ab, ändert sich "
     "nichts."},
    {"Amount (empty: everything refundable)", "Betrag (leer: alles Erstattbare)"},
    {"Password or authentication code, needed above",
     "Passwort oder Authentifizierungscode, nötig über"},
    {"Amount to capture", "Einzuziehender Betrag"},
    {"Last capture: release the rest", "Letzter Einzug: den Rest freigeben"},
    {"Actions", "Aktionen"},
    {"Nothing can be done with this payment in its state.",
     "Mit dieser Zahlung ist in ihrem Zustand nichts zu tun."},
    {"Your role may look but not act.", "Ihre Rolle darf ansehen, aber nicht handeln."},
    {"already done (this form was sent before)",
     "bereits erledigt (dieses Formular wurde schon gesendet)"},
    {"done", "erledigt"},
    {"All payments", "Alle Zahlungen"},
    {"Payment", "Zahlung"},
    {"This payment changed; the page shows the new state.",
     "Diese Zahlung hat sich geändert; die Seite zeigt den neuen Stand."},
    {"Give a currency code such as EUR.", "Geben Sie einen Währungscode wie EUR an."},
    {"Give a two-letter country code such as DE.",
     "Geben Sie einen zweistelligen Ländercode wie DE an."},
    {"Give a date such as 2026-12-01.", "Geben Sie ein Datum wie 2026-12-01 an."},
    {"Any", "Alle"},
    {"Search by any id", "Suche nach beliebiger ID"},
    {"pi_…, ECommPay payment_id, Klarna order id, Alipay+ id",
     "pi_…, ECommPay payment_id, Klarna-Bestell-ID, Alipay+-ID"},
    {"Status", "Status"},
    {"Currency", "Währung"},
    {"Customer e-mail", "E-Mail des Kunden"},
    {"Order reference", "Bestellreferenz"},
    {"Created from", "Erstellt ab"},
    {"Created until", "Erstellt bis"},
    {"Amount from", "Betrag ab"},
    {"Amount up to", "Betrag bis"},
    {"Saved views", "Gespeicherte Ansichten"},
    {"Delete view", "Ansicht löschen"},
    {"Delete", "Löschen"},
    {"Name for these filters", "Name für diese Filter"},
    {"Save view", "Ansicht speichern"},
    {"Totals for these filters", "Summen für diese Filter"},
    {"payments", "Zahlungen"},
    {"No payments match.", "Keine passenden Zahlungen."},
    {"Payments, newest first", "Zahlungen, neueste zuerst"},
    {"Order", "Bestellung"},
    {"Authorisations that expire within 7 days unless captured or extended.",
     "Autorisierungen, die innerhalb von 7 Tagen ablaufen, wenn sie nicht eingezogen oder "
     "verlängert werden."},
    {"Expires", "Läuft ab"},
    {"Nothing expires soon.", "Nichts läuft bald ab."},
    {"%d new payments: show them", "%d neue Zahlungen: anzeigen"},
    {"Correct the filter above.", "Korrigieren Sie den Filter oben."},
    {"Older payments", "Ältere Zahlungen"},
    {"Not saved", "Nicht gespeichert"},
    {"Give the person's e-mail address (name@example.com).",
     "Geben Sie die E-Mail-Adresse der Person an (name@example.com)."},
    {"The role must be one of admin, operations, finance, developer, read_only.",
     "Die Rolle muss admin, operations, finance, developer oder read_only sein."},
    {"A password needs 12 to 128 characters.", "Ein Passwort braucht 12 bis 128 Zeichen."},
    {"Could not mint the account's secrets.",
     "Die Geheimnisse des Kontos konnten nicht erzeugt werden."},
    {"A staff user with this e-mail address exists already.",
     "Es gibt bereits einen Mitarbeiter mit dieser E-Mail-Adresse."},
    {"There are several merchants: name one with --merchant.",
     "Es gibt mehrere Händler: Nennen Sie einen mit --merchant."},
    {"No such merchant (create one with kassa merchant create).",
     "Diesen Händler gibt es nicht (anlegen mit kassa merchant create)."},
    {"The user could not be stored.", "Der Benutzer konnte nicht gespeichert werden."},
    {"Enter your e-mail address.", "Geben Sie Ihre E-Mail-Adresse ein."},
    {"Enter your password.", "Geben Sie Ihr Passwort ein."},
    {"Signing in is not possible just now; try again in a moment.",
     "Anmelden ist gerade nicht möglich; versuchen Sie es gleich noch einmal."},
    {"Too many failed attempts: this account is locked for 15 minutes.",
     "Zu viele Fehlversuche: Dieses Konto ist für 15 Minuten gesperrt."},
    {"The e-mail address or the password is not right.",
     "E-Mail-Adresse oder Passwort stimmen nicht."},
    {"Your sign-in has expired: start again with your password.",
     "Ihre Anmeldung ist abgelaufen: Beginnen Sie erneut mit Ihrem Passwort."},
    {"Enter the 6-digit code from your authenticator app.",
     "Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein."},
    {"That code is not right (or was used already). Try the next one.",
     "Dieser Code stimmt nicht (oder wurde schon benutzt). Versuchen Sie den nächsten."},
    {"Give the view a name (at most 80 characters).",
     "Geben Sie der Ansicht einen Namen (höchstens 80 Zeichen)."},
    {"These filters are too long to save.", "Diese Filter sind zu lang zum Speichern."},
    {"The view could not be saved.", "Die Ansicht konnte nicht gespeichert werden."},
    {"Refused", "Abgelehnt"},
    {"This form was sent from another site. Nothing was changed.",
     "Dieses Formular wurde von einer anderen Website gesendet. Es wurde nichts geändert."},
    {"This form is stale (or not from this site). Reload the page and try again; nothing was "
     "changed.",
     "Dieses Formular ist veraltet (oder nicht von dieser Website). Laden Sie die Seite neu und "
     "versuchen Sie es erneut; es wurde nichts geändert."},
    {"Awaiting payment", "Wartet auf Zahlung"},
    {"Awaiting confirmation", "Wartet auf Bestätigung"},
    {"Customer acting", "Kunde ist dran"},
    {"Processing", "In Bearbeitung"},
    {"Succeeded", "Erfolgreich"},
    {"Canceled", "Storniert"},
    {"admin", "Administration"},
    {"operations", "Betrieb"},
    {"finance", "Buchhaltung"},
    {"developer", "Entwicklung"},
    {"read_only", "Nur lesen"},
    {"create", "Erstellt"},
    {"update", "Geändert"},
    {"attach", "Zahlungsart gewählt"},
    {"detach", "Zahlungsart entfernt"},
    {"action", "Kunde weitergeleitet"},
    {"process", "In Bearbeitung"},
    {"authorize", "Autorisiert"},
    {"sale", "Verkauf"},
    {"fail", "Fehlgeschlagen"},
    {"capture", "Einzug"},
    {"release", "Freigabe"},
    {"cancel", "Storno"},
    {"expire", "Abgelaufen"},
    {"extend", "Verlängert"},
    {"adjust", "Betrag angepasst"},
    {"refund", "Erstattung"},
    {"refund_settle", "Erstattung abgeschlossen"},
    {"refund_fail", "Erstattung fehlgeschlagen"},
    {"op", "Journal"},
    {"event", "Ereignis"},
    {"staff", "Mitarbeiter"},
    {"Capture in full", "Vollständig einziehen"},
    {"Capture the shipped lines", "Versandte Positionen einziehen"},
    {"Capture an amount", "Einen Betrag einziehen"},
    {"Cancel the reservation", "Reservierung stornieren"},
    {"Release the remainder", "Den Rest freigeben"},
    {"Extend the authorisation", "Autorisierung verlängern"},
    {"Change the order lines", "Bestellpositionen ändern"},
    {"Resend payment instructions", "Zahlungsanweisungen erneut senden"},
    {"Check status with the provider", "Status beim Anbieter prüfen"},
    {"Refund", "Erstatten"},
};

const char *bo_t(bo_lang lang, const char *en)
{
    if (en == NULL)
        return "";
    if (lang != BO_DE)
        return en;
    for (size_t i = 0; i < K_ARRAY_LEN(bo_words); i++)
        if (strcmp(bo_words[i].en, en) == 0)
            return bo_words[i].de;
    return en;
}

size_t bo_i18n_missing(bo_lang lang)
{
    size_t missing = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(bo_words); i++)
        missing += lang == BO_DE && (bo_words[i].de == NULL || bo_words[i].de[0] == '\0');
    return missing;
}

static const char *const bo_codes[BO_LANG__COUNT] = {"en", "de", "fr", "fi", "sv"};

const char *bo_lang_code(bo_lang lang)
{
    K_ASSERT(lang < BO_LANG__COUNT);
    return bo_codes[lang];
}

static int bo_lang_of(const char *s, size_t n)
{
    for (int i = 0; i < BO_LANG__COUNT; i++)
        if (n >= 2 && strncmp(s, bo_codes[i], 2) == 0 && (n == 2 || s[2] == '-' || s[2] == '_'))
            return i;
    return -1;
}

bo_lang bo_lang_pick(const char *explicit_code, const char *cookie, const char *accept_language)
{
    const char *picks[] = {explicit_code, cookie};
    for (size_t i = 0; i < K_ARRAY_LEN(picks); i++) {
        int l = picks[i] != NULL ? bo_lang_of(picks[i], strlen(picks[i])) : -1;
        if (l >= 0)
            return (bo_lang)l;
    }
    /* Accept-Language: the first listed language we have (q-values are in order in practice). */
    const char *p = accept_language;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",;");
        int l = bo_lang_of(p, n);
        if (l >= 0)
            return (bo_lang)l;
        p += n;
        if (*p == ';')
            p += strcspn(p, ",");
    }
    return BO_EN;
}
