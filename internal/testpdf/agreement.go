package testpdf

import (
	"fmt"
	"strings"
)

//go:generate go run ./agreementgen ../../testdata/agreement.pdf

// AgreementField is the name of the empty signature field Agreement
// prepares on its last page, where the borrower signs.
const AgreementField = "Borrower"

// Agreement returns the repository's sample unsigned document
// (testdata/agreement.pdf): a two-page A4 "Personal Loan Agreement" in
// Helvetica, with an empty signature field named AgreementField on page 2.
// The bytes are fixed (no dates, a fixed /ID), so the committed file can be
// checked against this function.
func Agreement() []byte {
	page1 := []line{
		{20, 72, 780, "Personal Loan Agreement"},
		{10, 72, 762, "Agreement no. EB/PL/2026/004217    Place: Bengaluru"},
		{12, 72, 730, "1. Parties"},
		{10, 72, 712, "Example Bank Ltd., MG Road, Bengaluru 560001 (the \"Lender\"), and"},
		{10, 72, 698, "Rajesh Kumar, 14 Residency Road, Bengaluru 560025, Karnataka (the \"Borrower\")."},
		{12, 72, 666, "2. The loan"},
		{10, 90, 648, "Principal amount"}, {10, 250, 648, "INR 5,00,000 (five lakh rupees)"},
		{10, 90, 634, "Interest rate"}, {10, 250, 634, "11.25% a year, fixed, on the reducing balance"},
		{10, 90, 620, "Tenure"}, {10, 250, 620, "36 months"},
		{10, 90, 606, "Monthly instalment (EMI)"}, {10, 250, 606, "INR 16,430, due on the 5th of each month"},
		{10, 90, 592, "Processing fee"}, {10, 250, 592, "INR 5,000 plus GST, deducted from the disbursal"},
		{12, 72, 560, "3. Disbursal"},
		{10, 72, 542, "The Lender pays the principal, less the processing fee, into the Borrower's savings"},
		{10, 72, 528, "account within three working days of this Agreement being signed by both parties."},
		{12, 72, 496, "4. Repayment"},
		{10, 72, 478, "The Borrower repays in 36 equated monthly instalments by NACH mandate. A payment"},
		{10, 72, 464, "more than 30 days late makes the whole outstanding amount payable on demand."},
		{12, 72, 432, "5. Prepayment"},
		{10, 72, 414, "The Borrower may repay the loan in full or in part after six instalments, without"},
		{10, 72, 400, "charge, on 15 days' written notice to the Lender."},
		{12, 72, 368, "6. Late payment"},
		{10, 72, 350, "An instalment not paid on its due date bears additional interest of 2% a year on the"},
		{10, 72, 336, "overdue amount, for the days it remains unpaid."},
		{9, 72, 60, "Personal Loan Agreement EB/PL/2026/004217, page 1 of 2"},
	}
	page2 := []line{
		{12, 72, 780, "7. Borrower's declarations"},
		{10, 72, 762, "The Borrower declares that the information given in the loan application is true, that"},
		{10, 72, 748, "no insolvency proceedings are pending against them, and that they have read the Key"},
		{10, 72, 734, "Fact Statement given to them before signing."},
		{12, 72, 702, "8. Governing law"},
		{10, 72, 684, "This Agreement is governed by the laws of India. The courts at Bengaluru have exclusive"},
		{10, 72, 670, "jurisdiction over any dispute arising from it."},
		{12, 72, 638, "9. Electronic signature"},
		{10, 72, 620, "The parties sign this Agreement with electronic signatures under the Information"},
		{10, 72, 606, "Technology Act, 2000, which they accept as equal to signatures in ink."},
		{12, 72, 520, "Signed by the Borrower"},
		{10, 72, 420, "Rajesh Kumar"},
		{9, 72, 60, "Personal Loan Agreement EB/PL/2026/004217, page 2 of 2"},
	}
	// The signature place: a box drawn on the page, and the empty signature
	// field over it (object 8) that `pdf sign --field Borrower` fills.
	box := "q 0.6 G 0.5 w 72 440 220 70 re S Q\n"
	return objectsTrailer([]string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [8 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 3 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
		stream(text(page1)),
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 7 0 R /Resources << /Font << /F1 3 0 R >> >> /Annots [8 0 R] >>",
		stream(box + text(page2)),
		"<< /FT /Sig /T (" + AgreementField + ") /Type /Annot /Subtype /Widget /Rect [72 440 292 510] /P 6 0 R /F 4 >>",
		"<< /Title (Personal Loan Agreement) /Author (Example Bank Ltd.) /Producer (SecureSign for Go sample document) >>",
	}, "/Info 9 0 R /ID [<5EC0E516A6EE3E7A0000000000000001> <5EC0E516A6EE3E7A0000000000000001>]")
}

type line struct {
	size, x, y int
	s          string
}

func text(lines []line) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "BT /F1 %d Tf %d %d Td (%s) Tj ET\n", l.size, l.x, l.y, pdfString(l.s))
	}
	return b.String()
}

func stream(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s)
}

// pdfString escapes s for a literal string.
func pdfString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(s)
}
