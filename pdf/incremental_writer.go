package pdf

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/securesign/securesign/pdf/internal/syntax"
)

// tailState is what appending a revision needs to know about the file so
// far. It is read from the file once (fromDocument) and then carried along
// in memory from one appended revision to the next.
type tailState struct {
	doc        *document // resolves objects of the original input
	size       int64     // current file size
	eolAtEnd   bool
	startxref  int64
	xrefStream bool
	nextNum    int
	root       syntax.Ref
	catalog    syntax.Dict // current catalog (as most recently written)
	info, id   syntax.Object
	// encrypt is the trailer's /Encrypt, kept in every appended trailer;
	// crypt encrypts the strings and streams of appended objects with the
	// document's key.
	encrypt syntax.Object
	crypt   *syntax.Crypt
	// objects overlays the input with dictionaries rewritten by revisions
	// appended in this session, so a later revision builds on them.
	objects map[uint32]syntax.Dict
}

func (st *tailState) override(ref syntax.Ref, d syntax.Dict) {
	if st.objects == nil {
		st.objects = map[uint32]syntax.Dict{}
	}
	st.objects[ref.Num] = d
}

func (st *tailState) resolve(o syntax.Object) (syntax.Object, error) {
	if r, ok := o.(syntax.Ref); ok {
		if d, ok := st.objects[r.Num]; ok {
			return d, nil
		}
	}
	return st.doc.resolve(o)
}

func (st *tailState) dict(o syntax.Object) (syntax.Dict, error) {
	if r, ok := o.(syntax.Ref); ok {
		if d, ok := st.objects[r.Num]; ok {
			return d, nil
		}
	}
	return st.doc.dict(o)
}

func stateFromDocument(d *document) (*tailState, error) {
	root := d.trailer.Get("Root").(syntax.Ref)
	cat, err := d.dict(root)
	if err != nil {
		return nil, err
	}
	if cat == nil {
		return nil, malformed("catalog %d is missing", root.Num)
	}
	return &tailState{
		doc: d, size: d.size, eolAtEnd: d.eolAtEnd, startxref: d.startxref(),
		xrefStream: d.xrefStream(), nextNum: d.nextObjectNumber(), root: root,
		catalog: cat.Clone(), info: d.trailer.Get("Info"), id: d.trailer.Get("ID"),
		encrypt: d.trailer.Get("Encrypt"), crypt: d.f.Crypt(),
	}, nil
}

// revBuilder assembles one incremental update in memory. Updates hold only
// new dictionaries and small streams, never document content.
type revBuilder struct {
	st      *tailState
	base    int64 // file offset of buf[0]
	buf     bytes.Buffer
	offsets map[int]int64
	gen     map[int]int // non-zero generations of rewritten objects
}

func (rb *revBuilder) gens() map[int]int {
	if rb.gen == nil {
		rb.gen = map[int]int{}
	}
	return rb.gen
}

func newRevBuilder(st *tailState) *revBuilder {
	rb := &revBuilder{st: st, base: st.size, offsets: map[int]int64{}}
	if !st.eolAtEnd {
		rb.buf.WriteByte('\n')
	}
	return rb
}

func (rb *revBuilder) alloc() int {
	n := rb.st.nextNum
	rb.st.nextNum++
	return n
}

// pos is the absolute offset of the next byte written.
func (rb *revBuilder) pos() int64 { return rb.base + int64(rb.buf.Len()) }

// object writes "num 0 obj <o> endobj".
func (rb *revBuilder) object(num int, o syntax.Object) {
	rb.offsets[num] = rb.pos()
	fmt.Fprintf(&rb.buf, "%d 0 obj\n", num)
	writeObj(&rb.buf, rb.encrypted(ref(num), o))
	rb.buf.WriteString("\nendobj\n")
}

// encrypted returns o with its strings encrypted for object r when the
// document is encrypted. rawPDF values (the signature's /Contents
// placeholder) stay as they are: /Contents is never encrypted.
func (rb *revBuilder) encrypted(r syntax.Ref, o syntax.Object) syntax.Object {
	c := rb.st.crypt
	if c == nil {
		return o
	}
	var walk func(o syntax.Object) syntax.Object
	walk = func(o syntax.Object) syntax.Object {
		switch x := o.(type) {
		case syntax.String:
			return syntax.String{Bytes: c.EncryptString(r, x.Bytes)}
		case syntax.Array:
			out := make(syntax.Array, len(x))
			for i, v := range x {
				out[i] = walk(v)
			}
			return out
		case syntax.Dict:
			out := make(syntax.Dict, len(x))
			for k, v := range x {
				out[k] = walk(v)
			}
			return out
		}
		return o
	}
	return walk(o)
}

// stream writes a stream object with dictionary d and data (already
// encoded as d's /Filter says).
func (rb *revBuilder) stream(num int, d syntax.Dict, data []byte) {
	d = d.Clone()
	if rb.st.crypt != nil && d.Get("Type") != syntax.Name("XRef") {
		// the xref stream (and its trailer strings) is never encrypted
		data = rb.st.crypt.EncryptStream(ref(num), data)
		d = rb.encrypted(ref(num), d).(syntax.Dict)
	}
	d["Length"] = int64(len(data))
	rb.offsets[num] = rb.pos()
	fmt.Fprintf(&rb.buf, "%d 0 obj\n", num)
	writeObj(&rb.buf, d)
	rb.buf.WriteString("\nstream\n")
	rb.buf.Write(data)
	rb.buf.WriteString("\nendstream\nendobj\n")
}

// finish writes the cross-reference section (table or stream, like the
// input's newest) and trailer, and advances the state.
func (rb *revBuilder) finish() []byte {
	st := rb.st
	xrefOff := rb.pos()
	trailer := syntax.Dict{}
	if st.xrefStream {
		xnum := rb.alloc()
		rb.offsets[xnum] = xrefOff
		nums := rb.sortedNums()
		w := 1
		for v := xrefOff; v > 0xff; v >>= 8 {
			w++
		}
		var data bytes.Buffer
		var index syntax.Array
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
				j++
			}
			index = append(index, int64(nums[i]), int64(j-i+1))
			for k := i; k <= j; k++ {
				off := rb.offsets[nums[k]]
				data.WriteByte(1)
				for s := w - 1; s >= 0; s-- {
					data.WriteByte(byte(off >> (8 * s)))
				}
				g := rb.gen[nums[k]]
				data.Write([]byte{byte(g >> 8), byte(g)})
			}
			i = j + 1
		}
		trailer["Type"] = syntax.Name("XRef")
		trailer["Size"] = int64(st.nextNum)
		trailer["Index"] = index
		trailer["W"] = syntax.Array{int64(1), int64(w), int64(2)}
		rb.trailerCommon(trailer)
		rb.stream(xnum, trailer, data.Bytes())
		rb.offsets[xnum] = xrefOff
	} else {
		nums := rb.sortedNums()
		rb.buf.WriteString("xref\n")
		for i := 0; i < len(nums); {
			j := i
			for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
				j++
			}
			fmt.Fprintf(&rb.buf, "%d %d\n", nums[i], j-i+1)
			for k := i; k <= j; k++ {
				fmt.Fprintf(&rb.buf, "%010d %05d n \n", rb.offsets[nums[k]], rb.gen[nums[k]])
			}
			i = j + 1
		}
		trailer["Size"] = int64(st.nextNum)
		rb.trailerCommon(trailer)
		rb.buf.WriteString("trailer\n")
		writeObj(&rb.buf, trailer)
		rb.buf.WriteString("\n")
	}
	rb.buf.WriteString("startxref\n" + strconv.FormatInt(xrefOff, 10) + "\n%%EOF\n")
	st.startxref = xrefOff
	st.size = rb.pos()
	st.eolAtEnd = true
	return rb.buf.Bytes()
}

func (rb *revBuilder) trailerCommon(t syntax.Dict) {
	st := rb.st
	t["Root"] = st.root
	if st.info != nil {
		t["Info"] = st.info
	}
	if st.id != nil {
		t["ID"] = st.id
	}
	if st.encrypt != nil {
		t["Encrypt"] = st.encrypt
	}
	t["Prev"] = st.startxref
}

func (rb *revBuilder) sortedNums() []int {
	nums := make([]int, 0, len(rb.offsets))
	for n := range rb.offsets {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	return nums
}
