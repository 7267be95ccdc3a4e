//go:build !unix

package source

import "os"

func appendFile(buf []byte, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}
