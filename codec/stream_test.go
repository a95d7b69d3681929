package codec

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// streamJSON is the reference: what a Go daemon gets from encoding/json.
func streamJSON(stream string, data []byte) []byte {
	p, err := json.Marshal(struct {
		Stream string `json:"stream"`
		Data   string `json:"data"`
	}{stream, string(data)})
	if err != nil {
		panic(err)
	}
	return p
}

func TestAppendStreamJSON(t *testing.T) {
	for _, test := range []struct {
		stream, data, want string
	}{
		{
			stream: "stdout",
			data:   "hello",
			want:   `{"stream":"stdout","data":"hello"}`,
		},
		{
			stream: "stderr",
			data:   "",
			want:   `{"stream":"stderr","data":""}`,
		},
		{
			stream: "stdout",
			data:   "a\"b\\c\td\re\x00f\x1f\x7f",
			want:   `{"stream":"stdout","data":"a\"b\\c\td\re\u0000f\u001f` + "\x7f" + `"}`,
		},
		{
			stream: "stdout",
			data:   "<script>&amp;</script>",
			want:   `{"stream":"stdout","data":"\u003cscript\u003e\u0026amp;\u003c/script\u003e"}`,
		},
		{
			stream: "stdout",
			data:   "\b\f\n",
			want:   `{"stream":"stdout","data":"\b\f\n"}`,
		},
		{
			stream: "stdout",
			data:   "é€😀\u2028\u2029",
			want:   `{"stream":"stdout","data":"é€😀\u2028\u2029"}`,
		},
		{
			stream: "stdout",
			data:   "a\xffb\xe2\x82c\xed\xa0\x80",
			want:   `{"stream":"stdout","data":"a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffd"}`,
		},
	} {
		got := string(AppendStreamJSON(nil, test.stream, []byte(test.data)))
		if got != test.want {
			t.Errorf(
				"AppendStreamJSON(%q, %q) = %s; want %s",
				test.stream, test.data, got, test.want,
			)
		}
		if ref := string(streamJSON(test.stream, []byte(test.data))); got != ref {
			t.Errorf(
				"AppendStreamJSON(%q, %q) = %s; encoding/json gives %s",
				test.stream, test.data, got, ref,
			)
		}
	}
}

func TestAppendStreamJSONRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []string{"<", ">", "&", "\"", "\\", "\u2028", "\u2029", "\x7f", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "é", "😀", "\x00", "\n"}
	for i := range 20000 {
		var data []byte
		for range rng.IntN(20) {
			switch rng.IntN(3) {
			case 0:
				data = append(data, byte(rng.IntN(256)))
			case 1:
				data = append(data, byte(rng.IntN(128)))
			default:
				data = append(data, special[rng.IntN(len(special))]...)
			}
		}
		stream := "stdout"
		if i%2 == 1 {
			stream = "stderr"
		}
		got := AppendStreamJSON([]byte("x"), stream, data)
		if want := streamJSON(stream, data); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf(
				"AppendStreamJSON(%q) = %s; encoding/json gives %s",
				data, got, want,
			)
		}
	}
}

func TestAppendStreamJSONAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	data := []byte("some <output> with \xff and é and a \"quote\"")
	allocs := testing.AllocsPerRun(100, func() {
		_ = AppendStreamJSON(dst[:0], "stderr", data)
	})
	if allocs != 0 {
		t.Errorf(
			"AppendStreamJSON allocates %v times",
			allocs,
		)
	}
}
