package main

import (
	"crypto/x509"
	"net/http"
	"strings"

	"github.com/securesign/securesign/internal/i18n"
	"github.com/securesign/securesign/signer"
)

// messages is the portal's one catalogue, English and Hindi, keyed by id.
var messages = i18n.Catalog{
	"en": {
		"portal":                  "Example Lending Portal",
		"lang_other":              "हिन्दी",
		"index_title":             "Sign a document with your DSC",
		"index_intro":             "Upload the PDF to sign. You register your DSC certificate once, then sign with it in the SecureSign Desktop Software or the Mobile App.",
		"pdf_file":                "PDF file",
		"upload":                  "Upload",
		"document":                "Document",
		"st_uploaded":             "Step 1: register your DSC certificate",
		"st_pending":              "Waiting for your signature",
		"st_signed":               "Signed",
		"st_cancelled":            "Cancelled",
		"st_failed":               "Not signed",
		"m_cancelled":             "You cancelled. Nothing was signed.",
		"m_failed":                "Signing did not complete. Nothing was signed.",
		"m_SS_LINK_INVALID":       "Your SecureSign app stopped this request before asking for your PIN, because it could not confirm that what it would sign is this document. Nothing was signed. If it happens again, contact us by a phone number you already know.",
		"m_SS_LINK_EXPIRED":       "The request expired before it was signed. Nothing was signed. Start again below.",
		"m_SS_PIN_INVALID":        "The PIN was not accepted. Nothing was signed. Start again below and type your token PIN.",
		"m_SS_PIN_BLOCKED":        "Your token's PIN is blocked after too many wrong tries. Nothing was signed. Your certificate provider can unblock it.",
		"m_SS_TOKEN_NOT_FOUND":    "No DSC token was found. Nothing was signed. Plug in your token and start again below.",
		"m_SS_CERT_NOT_FOUND":     "Your DSC certificate was not found on the token. Nothing was signed. Plug in the token you registered and start again below.",
		"m_SS_CERT_MISMATCH":      "The certificate used is not the one you registered here. Nothing was signed. Use the token you registered, or register again.",
		"m_SS_CERT_EXPIRED":       "Your DSC certificate has expired. Nothing was signed. Renew it with your certificate provider, then register the new one.",
		"m_SS_CERT_UNTRUSTED":     "Your DSC certificate is not from a certificate authority this website accepts. Nothing was signed.",
		"m_SS_DOMAIN_NOT_ALLOWED": "Your SecureSign app is not set up to sign for this website. Nothing was signed. Ask whoever set it up to allow this website.",
		"details":                 "Details",
		"your_cert":               "Your certificate: %s",
		"cert_line":               "%s | %s | valid until %d",
		"reg_h":                   "Step 1: register your DSC",
		"reg_desktop":             "Plug in your DSC token and press the button. The SecureSign Desktop Software opens and asks for your token PIN. Nothing is signed yet: this tells us which certificate is yours.",
		"reg_button":              "Register DSC",
		"sign_h":                  "Step 2: sign",
		"sign_desktop":            "Plug in your DSC token and press the button. The SecureSign Desktop Software opens, shows %s and asks for your token PIN.",
		"sign_button":             "Sign with DSC",
		"check_fp":                "Before you type the PIN, check that the Desktop Software shows this website, %s, and under Details the code %s.",
		"qr_desktop":              "Have the SecureSign Mobile App? Scan this code with your phone instead.",
		"to_mobile":               "Signing on this phone? Use the Mobile App",
		"mobile_reg":              "Press the button: the SecureSign Mobile App opens and asks for your PIN. Nothing is signed yet: this tells us which certificate is yours.",
		"mobile_sign":             "Press the button: the SecureSign Mobile App opens, shows %s and asks for your PIN.",
		"mobile_button":           "Open the Mobile App",
		"to_desktop":              "On a computer with a DSC token? Use the Desktop Software",
		"expires":                 "This link works until %s.",
		"not_running":             "Nothing happened? The SecureSign Desktop Software may not be installed or running. Install it with “securesign desktop install”, or use the Mobile App.",
		"try_again":               "Try again",
		"signed_h":                "You signed %s",
		"signed_with":             "With certificate %s",
		"signed_at":               "On %s",
		"at_timestamp":            "the time in the signature's timestamp",
		"at_arrived":              "when your signature reached us",
		"download":                "Download signed PDF",
		"check_valid":             "We checked the signature:",
		"valid":                   "valid",
		"not_valid":               "not valid",
		"report":                  "Validation report",
		"r_field":                 "Field",
		"r_signer":                "Signer",
		"r_level":                 "Level",
		"r_integrity":             "Integrity",
		"r_chain":                 "Chain",
		"r_indication":            "Indication",
		"report_json":             "Report JSON",
	},
	"hi": {
		"portal":                  "उदाहरण ऋण पोर्टल",
		"lang_other":              "English",
		"index_title":             "अपने DSC से दस्तावेज़ पर हस्ताक्षर करें",
		"index_intro":             "हस्ताक्षर के लिए PDF अपलोड करें। आप अपना DSC प्रमाणपत्र एक बार पंजीकृत करते हैं, फिर SecureSign डेस्कटॉप सॉफ़्टवेयर या मोबाइल ऐप में उससे हस्ताक्षर करते हैं।",
		"pdf_file":                "PDF फ़ाइल",
		"upload":                  "अपलोड करें",
		"document":                "दस्तावेज़",
		"st_uploaded":             "चरण 1: अपना DSC प्रमाणपत्र पंजीकृत करें",
		"st_pending":              "आपके हस्ताक्षर की प्रतीक्षा है",
		"st_signed":               "हस्ताक्षर हो गए",
		"st_cancelled":            "रद्द किया गया",
		"st_failed":               "हस्ताक्षर नहीं हुए",
		"m_cancelled":             "आपने रद्द कर दिया। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"m_failed":                "हस्ताक्षर पूरे नहीं हुए। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"m_SS_LINK_INVALID":       "आपके SecureSign ऐप ने PIN माँगने से पहले ही यह अनुरोध रोक दिया, क्योंकि वह पुष्टि नहीं कर सका कि जिस पर वह हस्ताक्षर करता वह यही दस्तावेज़ है। किसी चीज़ पर हस्ताक्षर नहीं हुआ। यदि ऐसा फिर हो, तो हमसे ऐसे फ़ोन नंबर पर संपर्क करें जो आपको पहले से पता हो।",
		"m_SS_LINK_EXPIRED":       "हस्ताक्षर होने से पहले अनुरोध की समय-सीमा समाप्त हो गई। किसी चीज़ पर हस्ताक्षर नहीं हुआ। नीचे फिर से शुरू करें।",
		"m_SS_PIN_INVALID":        "PIN स्वीकार नहीं हुआ। किसी चीज़ पर हस्ताक्षर नहीं हुआ। नीचे फिर से शुरू करें और अपने टोकन का PIN डालें।",
		"m_SS_PIN_BLOCKED":        "बहुत बार गलत प्रयास के बाद आपके टोकन का PIN ब्लॉक हो गया है। किसी चीज़ पर हस्ताक्षर नहीं हुआ। आपका प्रमाणपत्र प्रदाता इसे अनब्लॉक कर सकता है।",
		"m_SS_TOKEN_NOT_FOUND":    "कोई DSC टोकन नहीं मिला। किसी चीज़ पर हस्ताक्षर नहीं हुआ। अपना टोकन लगाएँ और नीचे फिर से शुरू करें।",
		"m_SS_CERT_NOT_FOUND":     "टोकन पर आपका DSC प्रमाणपत्र नहीं मिला। किसी चीज़ पर हस्ताक्षर नहीं हुआ। जो टोकन आपने पंजीकृत किया था उसे लगाएँ और नीचे फिर से शुरू करें।",
		"m_SS_CERT_MISMATCH":      "उपयोग किया गया प्रमाणपत्र वह नहीं है जो आपने यहाँ पंजीकृत किया था। किसी चीज़ पर हस्ताक्षर नहीं हुआ। पंजीकृत टोकन का उपयोग करें, या फिर से पंजीकरण करें।",
		"m_SS_CERT_EXPIRED":       "आपके DSC प्रमाणपत्र की अवधि समाप्त हो गई है। किसी चीज़ पर हस्ताक्षर नहीं हुआ। अपने प्रमाणपत्र प्रदाता से इसे नवीनीकृत कराएँ, फिर नया प्रमाणपत्र पंजीकृत करें।",
		"m_SS_CERT_UNTRUSTED":     "आपका DSC प्रमाणपत्र ऐसे प्रमाणन प्राधिकरण का नहीं है जिसे यह वेबसाइट स्वीकार करती है। किसी चीज़ पर हस्ताक्षर नहीं हुआ।",
		"m_SS_DOMAIN_NOT_ALLOWED": "आपका SecureSign ऐप इस वेबसाइट के लिए हस्ताक्षर करने हेतु सेट नहीं है। किसी चीज़ पर हस्ताक्षर नहीं हुआ। जिसने इसे सेट किया है उससे इस वेबसाइट को अनुमति देने को कहें।",
		"details":                 "विवरण",
		"your_cert":               "आपका प्रमाणपत्र: %s",
		"cert_line":               "%s | %s | %d तक मान्य",
		"reg_h":                   "चरण 1: अपना DSC पंजीकृत करें",
		"reg_desktop":             "अपना DSC टोकन लगाएँ और बटन दबाएँ। SecureSign डेस्कटॉप सॉफ़्टवेयर खुलेगा और आपके टोकन का PIN माँगेगा। अभी किसी चीज़ पर हस्ताक्षर नहीं होगा: इससे हमें पता चलता है कि कौन-सा प्रमाणपत्र आपका है।",
		"reg_button":              "DSC पंजीकृत करें",
		"sign_h":                  "चरण 2: हस्ताक्षर करें",
		"sign_desktop":            "अपना DSC टोकन लगाएँ और बटन दबाएँ। SecureSign डेस्कटॉप सॉफ़्टवेयर खुलेगा, %s दिखाएगा और आपके टोकन का PIN माँगेगा।",
		"sign_button":             "DSC से हस्ताक्षर करें",
		"check_fp":                "PIN डालने से पहले जाँच लें कि डेस्कटॉप सॉफ़्टवेयर यही वेबसाइट, %s, और विवरण में यह कोड %s दिखा रहा है।",
		"qr_desktop":              "क्या आपके पास SecureSign मोबाइल ऐप है? तो इसके बजाय अपने फ़ोन से यह कोड स्कैन करें।",
		"to_mobile":               "इसी फ़ोन पर हस्ताक्षर कर रहे हैं? मोबाइल ऐप का उपयोग करें",
		"mobile_reg":              "बटन दबाएँ: SecureSign मोबाइल ऐप खुलेगा और आपका PIN माँगेगा। अभी किसी चीज़ पर हस्ताक्षर नहीं होगा: इससे हमें पता चलता है कि कौन-सा प्रमाणपत्र आपका है।",
		"mobile_sign":             "बटन दबाएँ: SecureSign मोबाइल ऐप खुलेगा, %s दिखाएगा और आपका PIN माँगेगा।",
		"mobile_button":           "मोबाइल ऐप खोलें",
		"to_desktop":              "DSC टोकन वाले कंप्यूटर पर हैं? डेस्कटॉप सॉफ़्टवेयर का उपयोग करें",
		"expires":                 "यह लिंक %s तक काम करेगा।",
		"not_running":             "कुछ नहीं हुआ? हो सकता है SecureSign डेस्कटॉप सॉफ़्टवेयर इंस्टॉल न हो या चल न रहा हो। इसे “securesign desktop install” से इंस्टॉल करें, या मोबाइल ऐप का उपयोग करें।",
		"try_again":               "फिर से प्रयास करें",
		"signed_h":                "आपने %s पर हस्ताक्षर कर दिए",
		"signed_with":             "प्रमाणपत्र: %s",
		"signed_at":               "समय: %s",
		"at_timestamp":            "हस्ताक्षर के टाइमस्टैम्प में दर्ज समय",
		"at_arrived":              "जब आपका हस्ताक्षर हम तक पहुँचा",
		"download":                "हस्ताक्षरित PDF डाउनलोड करें",
		"check_valid":             "हमने हस्ताक्षर की जाँच की:",
		"valid":                   "मान्य",
		"not_valid":               "मान्य नहीं",
		"report":                  "सत्यापन रिपोर्ट",
		"r_field":                 "फ़ील्ड",
		"r_signer":                "हस्ताक्षरकर्ता",
		"r_level":                 "स्तर",
		"r_integrity":             "अखंडता",
		"r_chain":                 "प्रमाणपत्र शृंखला",
		"r_indication":            "परिणाम",
		"report_json":             "रिपोर्ट JSON",
	},
}

// pageLang is ?lang=, else Accept-Language.
func pageLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l != "" {
		if _, ok := messages[l]; ok {
			return l
		}
	}
	return messages.Negotiate(r.Header.Get("Accept-Language"), "en")
}

// onPhone reads the browser's hints: Sec-CH-UA-Mobile, else the user agent.
// The page's CSS media query decides too; this only picks the first layout.
func onPhone(r *http.Request) bool {
	if h := r.Header.Get("Sec-CH-UA-Mobile"); h != "" {
		return h == "?1"
	}
	ua := r.Header.Get("User-Agent")
	return strings.Contains(ua, "Mobi") || strings.Contains(ua, "Android")
}

// certLine is "Rajesh K. | 4A3B2C1D | valid until 2027".
func certLine(p *i18n.Printer, c *x509.Certificate) string {
	serial := signer.FormatSerial(c.SerialNumber)
	if len(serial) > 8 {
		serial = serial[:8]
	}
	return p.T("cert_line", i18n.ShortName(c.Subject.CommonName), serial, c.NotAfter.Year())
}
