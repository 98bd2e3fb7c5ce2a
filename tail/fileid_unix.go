//go:build unix

package tail

import (
	"io/fs"
	"syscall"
)

// idOf identifies a file by device and inode, which survive a rename.
func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{}
}
