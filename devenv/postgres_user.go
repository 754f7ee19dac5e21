package devenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// clusterUser decides which OS user runs the cluster. initdb and postgres
// refuse to run as root, so as root they run as the owner of an existing data
// dir, or else as the "postgres" OS user. Otherwise they run as ourselves.
func clusterUser(data string) (*syscall.Credential, []uint32, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	if fi, err := os.Stat(data); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			cred := &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
				cred.Groups = groupIDs(u)
			}
			return cred, cred.Groups, nil
		}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("running as root, and initdb/postgres refuse to run as root, but there is no \"postgres\" OS user to run them as (%v). "+
			"Create one (`useradd --system --home /var/lib/postgresql postgres`; installing the postgresql package does this), run perkflow dev as a normal user, or set DATABASE_URL", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, nil, fmt.Errorf("user postgres has a non-numeric uid/gid %s/%s", u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, nil, errors.New("running as root and the \"postgres\" OS user is root too; initdb refuses to run as root. Run perkflow dev as a normal user or set DATABASE_URL")
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groupIDs(u)}
	return cred, cred.Groups, nil
}

func groupIDs(u *user.User) []uint32 {
	ids, _ := u.GroupIds()
	var out []uint32
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out
}

// prepareForUser hands c.dir to the cluster user and makes sure that user can
// reach it. DataDir (base) is perkflow's own directory, so it gets the search
// (o+x) bit if it lacks it; directories above it are the user's business: we
// say what to do instead of changing them.
func (c *pgCluster) prepareForUser(base string, groups []uint32) error {
	uid, gid := int(c.cred.Uid), int(c.cred.Gid)
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == c.data && d.IsDir() {
			return fs.SkipDir // the cluster's files already belong to its user
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand %s to uid %d: %w", c.dir, uid, err)
	}
	for d := filepath.Dir(c.dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !canSearch(fi, c.cred.Uid, c.cred.Gid, groups) {
			if d == base {
				if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
					return err
				}
			} else {
				return fmt.Errorf("the throwaway cluster runs as uid %d (initdb refuses root), which cannot enter %s (mode %v). "+
					"Run `chmod o+x %s`, keep the project somewhere that user can reach, run perkflow dev as a normal user, or set DATABASE_URL",
					c.cred.Uid, d, fi.Mode().Perm(), d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// canSearch reports whether uid/gid (with supplementary groups) may traverse
// directory fi according to its mode bits.
func canSearch(fi fs.FileInfo, uid, gid uint32, groups []uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	if st.Uid == uid {
		return perm&0o100 != 0
	}
	inGroup := st.Gid == gid
	for _, g := range groups {
		inGroup = inGroup || g == st.Gid
	}
	if inGroup {
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
