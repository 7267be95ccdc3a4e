//go:build !unix

package source

import "os"

func appendFile(buf []byte, path string, limit int) ([]byte, bool, error) {
	if limit >= 0 {
		if st, err := os.Stat(path); err == nil && st.Size() > int64(limit) {
			return buf, true, nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	return append(buf, b...), false, nil
}
