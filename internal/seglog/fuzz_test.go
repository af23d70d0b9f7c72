package seglog

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover: whatever bytes a crash leaves in the newest segment, Open
// neither fails nor panics, keeps exactly the intact frames before the
// first damage, and cuts the file right after them.
func FuzzRecover(f *testing.F) {
	whole := AppendFrame(AppendFrame(nil, []byte("first")), []byte("second"))
	f.Add(whole)
	f.Add(append(append([]byte{}, whole...), 1, 2, 3))
	f.Add(whole[:len(whole)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, SegmentName(1, ".seg"))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var kept int64
		l, err := Open(dir, Options{NoSync: true, Visit: func(fr Frame) error {
			if fr.Off != kept+FrameHeader {
				t.Fatalf("frame at %d after %d intact bytes", fr.Off, kept)
			}
			kept = fr.Off + int64(len(fr.Body))
			return nil
		}})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != kept {
			t.Fatalf("segment cut to %d bytes, intact frames end at %d", st.Size(), kept)
		}
	})
}
