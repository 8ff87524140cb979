package desktop

import (
	"html/template"

	"github.com/securesign/securesign/internal/i18n"
)

// messages is the page's one catalogue: English and Hindi, keyed by id.
// Technical words (digest, fingerprint, request id, SS_* codes) appear only
// under "Details"; what a bank customer reads first says who asks, what is
// signed and what happened.
var messages = i18n.Catalog{
	"en": {
		"app":             "Desktop Software",
		"title_request":   "Signing request from %s",
		"ask_sign_doc":    "%s asks you to sign %s",
		"ask_sign":        "%s asks you to sign a document",
		"ask_register":    "%s asks you to register your certificate",
		"via":             "through the website %s",
		"verified":        "✓ This request really comes from %s",
		"unverified":      "⚠ We could not check who sent this request",
		"unverified_note": "Continue only if you started it yourself on %s just now.",
		"register_what":   "This only tells %s which certificate is yours. Nothing is signed.",
		"expires":         "Answer before %s.",
		"expires_none":    "No time limit was given (older kind of link).",
		"details":         "Details",
		"d_origin":        "Website",
		"d_link":          "Link check",
		"d_what":          "What is signed",
		"d_digests":       "%d digest(s), %s",
		"d_fingerprint":   "Fingerprint",
		"d_request":       "Request",
		"d_expires":       "Expires",
		"d_register":      "Proof of key possession; no document",
		"cert":            "Sign with this certificate",
		"cert_register":   "Certificate to register",
		"cert_line":       "%s | %s | valid until %d",
		"issued_by":       "issued by %s, on token “%s”",
		"cert_details":    "Subject %s · serial %s · %s",
		"not_this_cert":   "%s asks for a different certificate.",
		"cert_expired":    "This certificate has expired or is not valid yet.",
		"no_certs":        "No DSC token found. Plug in your DSC token and reload this page.",
		"token_error":     "A token could not be read.",
		"pin":             "Token PIN",
		"pin_hint":        "The PIN of your DSC token. It never leaves this computer.",
		"final_try":       "Final try: a wrong PIN now locks the token.",
		"sign":            "Sign",
		"register":        "Register certificate",
		"cancel":          "Cancel",
		"choose_cert":     "Choose a certificate.",
		"type_pin":        "Type the token PIN.",
		"pin_final":       "Wrong PIN. Final try: one more wrong PIN locks the token.",
		"pin_left":        "Wrong PIN. %d tries left.",
		"pin_low":         "Wrong PIN. Few tries left before the token locks.",
		"pin_unknown":     "Wrong PIN. The token does not say how many tries are left.",
		"pin_locked":      "The token's PIN is locked. Unblock it with the tool of your token's maker.",
		"no_token":        "No DSC token found. Plug in your DSC token.",
		"expired":         "This request has expired. Start again on the website.",
		"not_allowed":     "This website is not on your list of trusted portals.",
		"cert_mismatch":   "This is not the certificate the website asks for.",
		"other_error":     "Something went wrong. Nothing was signed.",
		"t_signed":        "Signed",
		"m_signed":        "You signed %s. %s has received it.",
		"m_signed_nodoc":  "You signed the document. %s has received it.",
		"t_undelivered":   "Signed, but not delivered",
		"m_undelivered":   "Your signature was made, but %s could not be reached. Start again on the website.",
		"t_cancelled":     "Cancelled",
		"m_cancelled":     "You cancelled. Nothing was signed.",
		"t_failed":        "Not signed",
		"t_refused":       "Request refused",
		"refused_note":    "Nothing was signed.",
		"back":            "Go back to the website's page to continue. You can close this tab.",
		"signed_at":       "Signed at %s",
		"signed_with":     "With certificate %s",
		"lang_other":      "हिन्दी",
	},
	"hi": {
		"app":             "डेस्कटॉप सॉफ़्टवेयर",
		"title_request":   "%s से हस्ताक्षर का अनुरोध",
		"ask_sign_doc":    "%s आपसे %s पर हस्ताक्षर करने का अनुरोध कर रहा है",
		"ask_sign":        "%s आपसे एक दस्तावेज़ पर हस्ताक्षर करने का अनुरोध कर रहा है",
		"ask_register":    "%s आपसे अपना प्रमाणपत्र पंजीकृत करने का अनुरोध कर रहा है",
		"via":             "वेबसाइट %s के माध्यम से",
		"verified":        "✓ यह अनुरोध सचमुच %s से आया है",
		"unverified":      "⚠ हम जाँच नहीं कर सके कि यह अनुरोध किसने भेजा",
		"unverified_note": "आगे तभी बढ़ें जब आपने अभी-अभी स्वयं %s पर यह शुरू किया हो।",
		"register_what":   "इससे %s को केवल यह पता चलता है कि कौन-सा प्रमाणपत्र आपका है। किसी चीज़ पर हस्ताक्षर नहीं होता।",
		"expires":         "%s से पहले उत्तर दें।",
		"expires_none":    "कोई समय-सीमा नहीं दी गई (पुराने प्रकार का लिंक)।",
		"details":         "विवरण",
		"d_origin":        "वेबसाइट",
		"d_link":          "लिंक की जाँच",
		"d_what":          "किस पर हस्ताक्षर होगा",
		"d_digests":       "%d डाइजेस्ट, %s",
		"d_fingerprint":   "फ़िंगरप्रिंट",
		"d_request":       "अनुरोध",
		"d_expires":       "समाप्ति",
		"d_register":      "कुंजी धारण का प्रमाण; कोई दस्तावेज़ नहीं",
		"cert":            "इस प्रमाणपत्र से हस्ताक्षर करें",
		"cert_register":   "पंजीकृत किया जाने वाला प्रमाणपत्र",
		"cert_line":       "%s | %s | %d तक मान्य",
		"issued_by":       "जारीकर्ता %s, टोकन “%s” पर",
		"cert_details":    "धारक %s · क्रमांक %s · %s",
		"not_this_cert":   "%s किसी दूसरे प्रमाणपत्र की माँग कर रहा है।",
		"cert_expired":    "यह प्रमाणपत्र समाप्त हो चुका है या अभी मान्य नहीं है।",
		"no_certs":        "कोई DSC टोकन नहीं मिला। अपना DSC टोकन लगाएँ और यह पेज फिर से लोड करें।",
		"token_error":     "एक टोकन पढ़ा नहीं जा सका।",
		"pin":             "टोकन PIN",
		"pin_hint":        "आपके DSC टोकन का PIN। यह इस कंप्यूटर से बाहर कभी नहीं जाता।",
		"final_try":       "अंतिम प्रयास: अब गलत PIN डालने पर टोकन लॉक हो जाएगा।",
		"sign":            "हस्ताक्षर करें",
		"register":        "प्रमाणपत्र पंजीकृत करें",
		"cancel":          "रद्द करें",
		"choose_cert":     "एक प्रमाणपत्र चुनें।",
		"type_pin":        "टोकन PIN डालें।",
		"pin_final":       "गलत PIN। अंतिम प्रयास: एक और गलत PIN से टोकन लॉक हो जाएगा।",
		"pin_left":        "गलत PIN। %d प्रयास बाकी हैं।",
		"pin_low":         "गलत PIN। टोकन लॉक होने से पहले कुछ ही प्रयास बाकी हैं।",
		"pin_unknown":     "गलत PIN। टोकन यह नहीं बताता कि कितने प्रयास बाकी हैं।",
		"pin_locked":      "टोकन का PIN लॉक हो गया है। इसे अपने टोकन निर्माता के टूल से अनलॉक करें।",
		"no_token":        "कोई DSC टोकन नहीं मिला। अपना DSC टोकन लगाएँ।",
		"expired":         "इस अनुरोध की समय-सीमा समाप्त हो गई है। वेबसाइट पर फिर से शुरू करें।",
		"not_allowed":     "यह वेबसाइट आपके भरोसेमंद पोर्टलों की सूची में नहीं है।",
		"cert_mismatch":   "यह वह प्रमाणपत्र नहीं है जिसकी वेबसाइट माँग कर रही है।",
		"other_error":     "कुछ गड़बड़ हो गई। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"t_signed":        "हस्ताक्षर हो गए",
		"m_signed":        "आपने %s पर हस्ताक्षर कर दिए। %s को यह मिल गया है।",
		"m_signed_nodoc":  "आपने दस्तावेज़ पर हस्ताक्षर कर दिए। %s को यह मिल गया है।",
		"t_undelivered":   "हस्ताक्षर हुए, पर भेजे नहीं जा सके",
		"m_undelivered":   "आपके हस्ताक्षर हो गए, पर %s तक पहुँचा नहीं जा सका। वेबसाइट पर फिर से शुरू करें।",
		"t_cancelled":     "रद्द किया गया",
		"m_cancelled":     "आपने रद्द कर दिया। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"t_failed":        "हस्ताक्षर नहीं हुए",
		"t_refused":       "अनुरोध अस्वीकार किया गया",
		"refused_note":    "किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"back":            "आगे बढ़ने के लिए वेबसाइट के पेज पर लौटें। आप यह टैब बंद कर सकते हैं।",
		"signed_at":       "हस्ताक्षर का समय: %s",
		"signed_with":     "प्रमाणपत्र: %s",
		"lang_other":      "English",
	},
}

// msg is a message id with its arguments, rendered in the viewer's language.
type msg struct {
	ID   string
	Args []any
}

func m(id string, args ...any) msg { return msg{id, args} }

// part is one argument of a sentence, with the element id it is found by.
type part struct{ id, text string }

// emph renders id with its arguments escaped and wrapped in <strong id=…>.
func emph(p *i18n.Printer, id string, args ...part) template.HTML {
	a := make([]template.HTML, len(args))
	for i, s := range args {
		a[i] = i18n.Elem("strong", s.id, s.text)
	}
	return p.HTML(id, a...)
}

// withTime renders id with its one %s as a <time> element.
func withTime(p *i18n.Printer, id, iso, text string) template.HTML {
	return p.HTML(id, i18n.Time(iso, text))
}
