/*
 * i18n.c - the hosted pages' string table (en, de, fr, fi, sv), the country
 * list of the billing-country select, and language negotiation (explicit
 * locale, then Accept-Language with q-values, then English). Adding a language
 * is adding a column: the unit test checks that no cell is empty.
 */
#include "i18n.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const lang_codes[LANG__COUNT] = {"en", "de", "fr", "fi", "sv"};
static const char *const lang_names[LANG__COUNT] = {"English", "Deutsch", "Français", "Suomi",
                                                    "Svenska"};
/* A language's home country (preselected when the currency allows it). */
static const char *const lang_home[LANG__COUNT] = {"GB", "DE", "FR", "FI", "SE"};

/* One row per key: en, de, fr, fi, sv. */
static const char *const texts[T__COUNT][LANG__COUNT] = {
    [T_CHECKOUT_TITLE] = {"Checkout", "Kasse", "Paiement", "Kassa", "Kassa"},
    [T_ORDER_SUMMARY] = {"Order summary", "Bestellübersicht", "Récapitulatif de la commande",
                         "Tilauksen yhteenveto", "Ordersammanfattning"},
    [T_COL_ITEM] = {"Item", "Artikel", "Article", "Tuote", "Artikel"},
    [T_COL_QTY] = {"Qty", "Menge", "Qté", "Määrä", "Antal"},
    [T_COL_UNIT] = {"Unit price", "Einzelpreis", "Prix unitaire", "Yksikköhinta", "Styckpris"},
    [T_COL_TOTAL] = {"Line total", "Summe", "Sous-total", "Yhteensä", "Summa"},
    [T_TOTAL] = {"Total", "Gesamtbetrag", "Total", "Yhteensä", "Totalt"},
    [T_PAYMENT_METHOD] = {"Payment method", "Zahlungsart", "Moyen de paiement", "Maksutapa",
                          "Betalningssätt"},
    [T_M_KLARNA_PAY_NOW] = {"Klarna — Pay now (online banking)",
                            "Klarna — Sofort bezahlen (Online-Banking)",
                            "Klarna — Payer maintenant (virement bancaire en ligne)",
                            "Klarna — Maksa nyt (verkkopankki)",
                            "Klarna — Betala nu (internetbank)"},
    [T_M_KLARNA_PAY_LATER] = {"Klarna — Pay later", "Klarna — Später bezahlen",
                              "Klarna — Payer plus tard", "Klarna — Maksa myöhemmin",
                              "Klarna — Betala senare"},
    [T_M_KLARNA] = {"Klarna", "Klarna", "Klarna", "Klarna", "Klarna"},
    [T_M_KLARNA_HINT] = {"Choose how to pay on Klarna's page",
                         "Zahlungsweise auf der Klarna-Seite wählen",
                         "Choisissez comment payer sur la page de Klarna",
                         "Valitse maksutapa Klarnan sivulla",
                         "Välj hur du betalar på Klarnas sida"},
    [T_M_ALIPAY] = {"Alipay+", "Alipay+", "Alipay+", "Alipay+", "Alipay+"},
    [T_M_ALIPAY_HINT] = {"Pay with your wallet app", "Mit Ihrer Wallet-App bezahlen",
                         "Payez avec votre application de portefeuille",
                         "Maksa lompakkosovelluksellasi", "Betala med din plånboksapp"},
    [T_EMAIL] = {"E-mail", "E-Mail-Adresse", "Adresse e-mail", "Sähköposti", "E-postadress"},
    [T_EMAIL_HINT] = {"The payment provider sends your payment confirmation here.",
                      "Der Zahlungsanbieter sendet die Zahlungsbestätigung an diese Adresse.",
                      "Le prestataire de paiement envoie la confirmation à cette adresse.",
                      "Maksupalvelu lähettää maksuvahvistuksen tähän osoitteeseen.",
                      "Betaltjänsten skickar betalningsbekräftelsen hit."},
    [T_COUNTRY] = {"Country", "Land", "Pays", "Maa", "Land"},
    [T_PAY_BUTTON] = {"Pay {}", "{} bezahlen", "Payer {}", "Maksa {}", "Betala {}"},
    [T_CANCEL] = {"Cancel and return to the shop", "Abbrechen und zurück zum Shop",
                  "Annuler et revenir à la boutique", "Peruuta ja palaa kauppaan",
                  "Avbryt och gå tillbaka till butiken"},
    [T_REDIRECT_NOTE] = {"You will continue on the payment provider's page.",
                         "Sie werden zur Seite des Zahlungsanbieters weitergeleitet.",
                         "Vous allez être redirigé vers la page du prestataire de paiement.",
                         "Sinut ohjataan maksupalvelun sivulle.",
                         "Du skickas vidare till betaltjänstens sida."},
    [T_EXPIRED_TITLE] = {"This payment link has expired", "Dieser Zahlungslink ist abgelaufen",
                         "Ce lien de paiement a expiré", "Tämä maksulinkki on vanhentunut",
                         "Den här betalningslänken har gått ut"},
    [T_EXPIRED_BODY] = {"Please return to the shop and start the checkout again.",
                        "Bitte kehren Sie zum Shop zurück und starten Sie den Bezahlvorgang neu.",
                        "Veuillez retourner à la boutique et recommencer le paiement.",
                        "Palaa kauppaan ja aloita maksaminen uudelleen.",
                        "Gå tillbaka till butiken och påbörja betalningen igen."},
    [T_NOTFOUND_TITLE] = {"Payment page not found", "Zahlungsseite nicht gefunden",
                          "Page de paiement introuvable", "Maksusivua ei löytynyt",
                          "Betalningssidan hittades inte"},
    [T_NOTFOUND_BODY] = {"Please check the link or return to the shop.",
                         "Bitte prüfen Sie den Link oder kehren Sie zum Shop zurück.",
                         "Vérifiez le lien ou retournez à la boutique.",
                         "Tarkista linkki tai palaa kauppaan.",
                         "Kontrollera länken eller gå tillbaka till butiken."},
    [T_ERROR_TITLE] = {"Something went wrong", "Etwas ist schiefgelaufen",
                       "Une erreur s'est produite", "Jotain meni vikaan", "Något gick fel"},
    [T_ERROR_BODY] = {"Please try again in a moment.", "Bitte versuchen Sie es gleich noch einmal.",
                      "Veuillez réessayer dans un instant.", "Yritä hetken kuluttua uudelleen.",
                      "Försök igen om en stund."},
    [T_BACK_TO_SHOP] = {"Back to shop", "Zurück zum Shop", "Retour à la boutique",
                        "Takaisin kauppaan", "Tillbaka till butiken"},
    [T_PAID_TITLE] = {"Payment received", "Zahlung erhalten", "Paiement reçu",
                      "Maksu vastaanotettu", "Betalningen har tagits emot"},
    [T_PAID_BODY] = {"Thank you! Your payment of {} has been received.",
                     "Vielen Dank! Ihre Zahlung über {} ist eingegangen.",
                     "Merci ! Votre paiement de {} a bien été reçu.",
                     "Kiitos! Maksusi {} on vastaanotettu.",
                     "Tack! Din betalning på {} har tagits emot."},
    [T_ORDER_REF] = {"Order reference", "Bestellreferenz", "Référence de commande", "Tilausviite",
                     "Orderreferens"},
    [T_AMOUNT] = {"Amount", "Betrag", "Montant", "Summa", "Belopp"},
    [T_FAILED_TITLE] = {"Payment not completed", "Zahlung nicht abgeschlossen",
                        "Paiement non effectué", "Maksu ei onnistunut",
                        "Betalningen genomfördes inte"},
    [T_TRY_AGAIN] = {"Try again", "Erneut versuchen", "Réessayer", "Yritä uudelleen",
                     "Försök igen"},
    [T_PROCESSING_TITLE] = {"Processing your payment…", "Ihre Zahlung wird bearbeitet …",
                            "Traitement de votre paiement…", "Maksuasi käsitellään…",
                            "Din betalning behandlas …"},
    [T_PROCESSING_BODY] =
        {"This page updates automatically. Please do not close it.",
         "Diese Seite aktualisiert sich automatisch. Bitte schließen Sie sie nicht.",
         "Cette page se met à jour automatiquement. Merci de ne pas la fermer.",
         "Sivu päivittyy automaattisesti. Älä sulje sitä.",
         "Sidan uppdateras automatiskt. Stäng den inte."},
    [T_CHECK_NOW] = {"Check now", "Jetzt prüfen", "Vérifier maintenant", "Tarkista nyt",
                     "Kontrollera nu"},
    [T_CANCELED_TITLE] = {"This payment was cancelled", "Diese Zahlung wurde storniert",
                          "Ce paiement a été annulé", "Tämä maksu on peruttu",
                          "Den här betalningen har avbrutits"},
    [T_R_CUSTOMER_DECLINE] = {"You cancelled the payment. Nothing was charged.",
                              "Sie haben die Zahlung abgebrochen. Es wurde nichts abgebucht.",
                              "Vous avez annulé le paiement. Rien n'a été débité.",
                              "Peruutit maksun. Mitään ei veloitettu.",
                              "Du avbröt betalningen. Inget har debiterats."},
    [T_R_AUTH_FAILED] = {"Your bank could not confirm that it was you. Please try again.",
                         "Ihre Bank konnte Sie nicht bestätigen. Bitte versuchen Sie es erneut.",
                         "Votre banque n'a pas pu confirmer votre identité. Veuillez réessayer.",
                         "Pankkisi ei voinut vahvistaa henkilöllisyyttäsi. Yritä uudelleen.",
                         "Din bank kunde inte bekräfta att det var du. Försök igen."},
    [T_TEST_MODE] = {"Test mode", "Testmodus", "Mode test", "Testitila", "Testläge"},
    [T_PAID_LATER_BODY] =
        {"Thank you! Your order is confirmed: you pay {} to Klarna within 30 days.",
         "Vielen Dank! Ihre Bestellung ist bestätigt: Sie zahlen {} innerhalb von "
         "30 Tagen an Klarna.",
         "Merci ! Votre commande est confirmée : vous payez {} à Klarna sous 30 "
         "jours.",
         "Kiitos! Tilauksesi on vahvistettu: maksat {} Klarnalle 30 päivän "
         "kuluessa.",
         "Tack! Din order är bekräftad: du betalar {} till Klarna inom 30 dagar."},
    [T_PAID_INSTALMENTS_BODY] = {"Thank you! Your order is confirmed: you pay {} to Klarna in 3 "
                                 "interest-free instalments, one every 30 days.",
                                 "Vielen Dank! Ihre Bestellung ist bestätigt: Sie zahlen {} in 3 "
                                 "zinsfreien Raten an Klarna, alle 30 Tage eine.",
                                 "Merci ! Votre commande est confirmée : vous payez {} à Klarna en "
                                 "3 fois sans frais, une échéance tous les 30 jours.",
                                 "Kiitos! Tilauksesi on vahvistettu: maksat {} Klarnalle 3 "
                                 "korottomassa erässä, 30 päivän välein.",
                                 "Tack! Din order är bekräftad: du betalar {} till Klarna i 3 "
                                 "räntefria delbetalningar, en var 30:e dag."},
    [T_DUE_BY] = {"Pay by", "Zahlbar bis", "À payer avant le", "Eräpäivä", "Betala senast"},
    [T_INSTALMENTS] = {"Instalments", "Raten", "Échéances", "Erät", "Delbetalningar"},
    [T_E_NOT_IN_COUNTRY] = {"This payment method is not offered in {}. Choose another payment "
                            "method, or check the country.",
                            "Diese Zahlungsart wird in {} nicht angeboten. Wählen Sie eine andere "
                            "Zahlungsart oder prüfen Sie das Land.",
                            "Ce moyen de paiement n'est pas proposé pour : {}. Choisissez un autre "
                            "moyen de paiement ou vérifiez le pays.",
                            "Tätä maksutapaa ei tarjota maassa {}. Valitse toinen maksutapa tai "
                            "tarkista maa.",
                            "Det här betalsättet erbjuds inte i {}. Välj ett annat betalsätt eller "
                            "kontrollera landet."},
    [T_CHOOSE_OTHER] = {"Choose another payment method", "Andere Zahlungsart wählen",
                        "Choisir un autre moyen de paiement", "Valitse toinen maksutapa",
                        "Välj ett annat betalsätt"},
    [T_PAYING] = {"Processing…", "Wird verarbeitet …", "Traitement…", "Käsitellään…", "Bearbetas…"},
    [T_R_PROVIDER_DECLINE] =
        {"The payment provider declined the payment. Please choose another payment method.",
         "Der Zahlungsanbieter hat die Zahlung abgelehnt. Bitte wählen Sie eine andere "
         "Zahlungsart.",
         "Le prestataire de paiement a refusé le paiement. Veuillez choisir un autre moyen de "
         "paiement.",
         "Maksupalvelu hylkäsi maksun. Valitse toinen maksutapa.",
         "Betaltjänsten nekade betalningen. Välj ett annat betalningssätt."},
    [T_R_EXPIRED] = {"The payment took too long and has timed out.",
                     "Die Zahlung hat zu lange gedauert und ist abgelaufen.",
                     "Le paiement a pris trop de temps et a expiré.",
                     "Maksu kesti liian kauan ja vanheni.",
                     "Betalningen tog för lång tid och har gått ut."},
    [T_R_NOT_AVAILABLE] = {"This payment method is not available for this order.",
                           "Diese Zahlungsart ist für diese Bestellung nicht verfügbar.",
                           "Ce moyen de paiement n'est pas disponible pour cette commande.",
                           "Tämä maksutapa ei ole käytettävissä tälle tilaukselle.",
                           "Det här betalningssättet är inte tillgängligt för den här ordern."},
    [T_R_CANCELED] = {"The payment was cancelled.", "Die Zahlung wurde abgebrochen.",
                      "Le paiement a été annulé.", "Maksu peruutettiin.", "Betalningen avbröts."},
    [T_R_GENERIC] = {"The payment could not be completed.",
                     "Die Zahlung konnte nicht abgeschlossen werden.",
                     "Le paiement n'a pas pu être effectué.", "Maksua ei voitu suorittaa.",
                     "Betalningen kunde inte genomföras."},
    [T_E_EMAIL] = {"Please enter a valid e-mail address.",
                   "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
                   "Veuillez saisir une adresse e-mail valide.",
                   "Anna kelvollinen sähköpostiosoite.", "Ange en giltig e-postadress."},
    [T_E_COUNTRY] = {"Please choose your country.", "Bitte wählen Sie Ihr Land.",
                     "Veuillez choisir votre pays.", "Valitse maasi.", "Välj ditt land."},
    [T_E_METHOD] = {"Please choose a payment method.", "Bitte wählen Sie eine Zahlungsart.",
                    "Veuillez choisir un moyen de paiement.", "Valitse maksutapa.",
                    "Välj ett betalningssätt."},
    [T_E_BUSY] = {"The payment service is busy. Please try again in a moment.",
                  "Der Zahlungsdienst ist ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
                  "Le service de paiement est surchargé. Veuillez réessayer dans un instant.",
                  "Maksupalvelu on ruuhkautunut. Yritä hetken kuluttua uudelleen.",
                  "Betaltjänsten är upptagen. Försök igen om en stund."},
    [T_LANGUAGE] = {"Language", "Sprache", "Langue", "Kieli", "Språk"},
    [T_PAID_BY] = {"Secure payment by Kassa", "Sichere Zahlung über Kassa",
                   "Paiement sécurisé par Kassa", "Turvallinen maksu: Kassa",
                   "Säker betalning via Kassa"},
};

typedef struct {
    const char *code;
    const char *currency;
    const char *names[LANG__COUNT];
} country_row;

/* Klarna's and ECommPay's European markets (DESIGN.md; seeds 001/002). */
static const country_row countries[] = {
    {"DE", "EUR", {"Germany", "Deutschland", "Allemagne", "Saksa", "Tyskland"}},
    {"AT", "EUR", {"Austria", "Österreich", "Autriche", "Itävalta", "Österrike"}},
    {"BE", "EUR", {"Belgium", "Belgien", "Belgique", "Belgia", "Belgien"}},
    {"CH", "CHF", {"Switzerland", "Schweiz", "Suisse", "Sveitsi", "Schweiz"}},
    {"ES", "EUR", {"Spain", "Spanien", "Espagne", "Espanja", "Spanien"}},
    {"GB",
     "GBP",
     {"United Kingdom", "Vereinigtes Königreich", "Royaume-Uni", "Yhdistynyt kuningaskunta",
      "Storbritannien"}},
    {"IT", "EUR", {"Italy", "Italien", "Italie", "Italia", "Italien"}},
    {"NL", "EUR", {"Netherlands", "Niederlande", "Pays-Bas", "Alankomaat", "Nederländerna"}},
    {"PL", "PLN", {"Poland", "Polen", "Pologne", "Puola", "Polen"}},
    {"FI", "EUR", {"Finland", "Finnland", "Finlande", "Suomi", "Finland"}},
    {"SE", "SEK", {"Sweden", "Schweden", "Suède", "Ruotsi", "Sverige"}},
    {"FR", "EUR", {"France", "Frankreich", "France", "Ranska", "Frankrike"}},
    {"DK", "DKK", {"Denmark", "Dänemark", "Danemark", "Tanska", "Danmark"}},
    {"NO", "NOK", {"Norway", "Norwegen", "Norvège", "Norja", "Norge"}},
    {"IE", "EUR", {"Ireland", "Irland", "Irlande", "Irlanti", "Irland"}},
    {"PT", "EUR", {"Portugal", "Portugal", "Portugal", "Portugali", "Portugal"}},
};

const char *i18n_code(i18n_lang lang)
{
    K_ASSERT((unsigned)lang < LANG__COUNT);
    return lang_codes[lang];
}

const char *i18n_native_name(i18n_lang lang)
{
    K_ASSERT((unsigned)lang < LANG__COUNT);
    return lang_names[lang];
}

const char *i18n_t(i18n_lang lang, i18n_key key)
{
    K_ASSERT((unsigned)lang < LANG__COUNT);
    K_ASSERT((unsigned)key < T__COUNT);
    const char *s = texts[key][lang];
    K_ASSERT(s != NULL);
    K_ASSERT(s[0] != '\0');
    return s;
}

/* Parses one language tag s[0..n) ("de", "de-AT", "de_at"). */
static bool parse_tag(const char *s, size_t n, i18n_lang *out, char *region)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    if (n < 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1])) {
        return false;
    }
    if (n > 2 && s[2] != '-' && s[2] != '_') {
        return false; /* "deu", "auto" */
    }
    for (int i = 0; i < LANG__COUNT; i++) {
        if (strncasecmp(s, lang_codes[i], 2) != 0) {
            continue;
        }
        *out = (i18n_lang)i;
        if (region != NULL) {
            region[0] = '\0';
            if (n >= 5 && isalpha((unsigned char)s[3]) && isalpha((unsigned char)s[4]) &&
                (n == 5 || s[5] == '-' || s[5] == '_')) {
                region[0] = (char)toupper((unsigned char)s[3]);
                region[1] = (char)toupper((unsigned char)s[4]);
                region[2] = '\0';
            }
        }
        return true;
    }
    return false;
}

bool i18n_parse(const char *locale, i18n_lang *out, char *region)
{
    K_ASSERT(out != NULL);
    if (locale == NULL) {
        return false;
    }
    return parse_tag(locale, strlen(locale), out, region);
}

/* q-value of ";q=0.8" parameters in p[0..n): 0..1000; 1000 when absent, -1 when malformed. */
static int parse_q(const char *p, size_t n)
{
    const char *q = NULL;
    for (size_t i = 0; i + 1 < n; i++) {
        if ((p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=') {
            q = p + i + 2;
            break;
        }
    }
    if (q == NULL) {
        return 1000;
    }
    const char *end = p + n;
    if (q >= end || (*q != '0' && *q != '1')) {
        return -1;
    }
    int v = (*q - '0') * 1000;
    q++;
    if (q < end && *q == '.') {
        q++;
        int scale = 100;
        while (q < end && isdigit((unsigned char)*q) && scale > 0) {
            v += (*q - '0') * scale;
            scale /= 10;
            q++;
        }
    }
    return v > 1000 ? 1000 : v;
}

bool i18n_accept(const char *accept_language, i18n_lang *out, char *region)
{
    K_ASSERT(out != NULL);
    if (accept_language == NULL) {
        return false;
    }
    int best_q = 0;
    const char *s = accept_language;
    /* Bounded: each pass consumes at least one byte of a NUL-terminated header. */
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        const char *semi = memchr(s, ';', len);
        size_t tag_len = semi != NULL ? (size_t)(semi - s) : len;
        int q = semi != NULL ? parse_q(semi, len - tag_len) : 1000;
        i18n_lang lang;
        char reg[3];
        if (q > best_q && parse_tag(s, tag_len, &lang, reg)) {
            best_q = q;
            *out = lang;
            if (region != NULL) {
                memcpy(region, reg, sizeof reg);
            }
        }
        s += len;
        if (*s == ',') {
            s++;
        }
    }
    return best_q > 0;
}

i18n_lang i18n_pick(const char *const *explicit_locales, size_t n, const char *accept_language,
                    char *region)
{
    i18n_lang lang = LANG_EN;
    if (region != NULL) {
        region[0] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        if (i18n_parse(explicit_locales[i], &lang, region)) {
            return lang;
        }
    }
    if (i18n_accept(accept_language, &lang, region)) {
        return lang;
    }
    return LANG_EN;
}

size_t i18n_country_count(void)
{
    return K_ARRAY_LEN(countries);
}

const char *i18n_country_code(size_t i)
{
    K_ASSERT(i < K_ARRAY_LEN(countries));
    return countries[i].code;
}

const char *i18n_country_currency(size_t i)
{
    K_ASSERT(i < K_ARRAY_LEN(countries));
    return countries[i].currency;
}

const char *i18n_country_name(i18n_lang lang, size_t i)
{
    K_ASSERT(i < K_ARRAY_LEN(countries));
    K_ASSERT((unsigned)lang < LANG__COUNT);
    return countries[i].names[lang];
}

int i18n_country_find(const char *code)
{
    if (code == NULL) {
        return -1;
    }
    for (size_t i = 0; i < K_ARRAY_LEN(countries); i++) {
        if (strcasecmp(code, countries[i].code) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* true when country index i uses currency (or there is no preference). */
static bool country_takes(int i, const char *currency)
{
    if (i < 0) {
        return false;
    }
    return currency == NULL || strcasecmp(countries[i].currency, currency) == 0;
}

const char *i18n_default_country(i18n_lang lang, const char *region, const char *currency)
{
    K_ASSERT((unsigned)lang < LANG__COUNT);
    int i = i18n_country_find(region);
    if (country_takes(i, currency)) {
        return countries[i].code;
    }
    /* A language spoken in one home country names it, whatever the currency (a
     * Swedish session paying in euros is most likely in Sweden, docs/pages.md);
     * English names no country, so the currency decides for it. */
    i = i18n_country_find(lang_home[lang]);
    if (country_takes(i, lang == LANG_EN ? currency : NULL)) {
        return countries[i].code;
    }
    for (size_t k = 0; k < K_ARRAY_LEN(countries); k++) {
        if (country_takes((int)k, currency)) {
            return countries[k].code;
        }
    }
    return lang_home[lang];
}
