package pdf

import (
	"strings"
	"testing"
)

func TestVerifySmoke(t *testing.T) {
	doc := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	rep := mustVerify(t, doc)
	t.Log(dumpReport(rep))
	doc2 := signWithPdfsign(t, doc, pdfsignOpts{leaf: getPKI(t).leaf2})
	rep = mustVerify(t, doc2)
	t.Log(dumpReport(rep))
}

func TestDumpTmp(t *testing.T) {
	doc := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	i := len(baseDoc())
	s := string(doc[i:])
	if j := strings.Index(s, "/Contents"); j > 0 {
		s = s[:j+20] + "..." + s[j+20+strings.Index(s[j+20:], ">"):]
	}
	t.Log(s)
}
