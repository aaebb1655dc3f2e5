package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"
)

// UserForms are the accepted forms of a User, for error messages.
const UserForms = "a user name, a uid, or uid:gid, such as app, 1000 or 1000:1000"

// A User is whom the services run as, as configured: a name from /etc/passwd, a
// numeric uid, or uid:gid. Numeric forms work without /etc/passwd (a scratch
// image). The zero User is "none configured".
type User struct {
	spec     string
	name     string // set for the name form
	uid, gid int    // -1 when not given
}

var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// ParseUser reads a user as configured. It checks the form only; whether the user
// exists is known when privileges are dropped.
func ParseUser(spec string) (User, error) {
	u := User{spec: spec, uid: -1, gid: -1}
	uidText, gidText, hasGid := strings.Cut(spec, ":")
	uid, uidErr := strconv.ParseUint(uidText, 10, 31)
	switch {
	case hasGid:
		gid, gidErr := strconv.ParseUint(gidText, 10, 31)
		if uidErr != nil || gidErr != nil {
			return User{}, errors.New("uid:gid must be two numbers")
		}
		u.uid, u.gid = int(uid), int(gid)
	case uidErr == nil:
		u.uid = int(uid)
	case userName.MatchString(spec):
		u.name = spec
	default:
		return User{}, errors.New("not a user name or a number")
	}
	return u, nil
}

func (u User) String() string { return u.spec }

// credentials are what a User resolves to.
type credentials struct {
	uid, gid int
	groups   []int
}

// resolve finds the user's ids and supplementary groups. A uid unknown to
// /etc/passwd runs with gid = uid (not root's group 0) and no supplementary group.
func (u User) resolve() (credentials, error) {
	var entry *user.User
	var err error
	if u.name != "" {
		entry, err = user.Lookup(u.name)
		if errors.As(err, new(user.UnknownUserError)) {
			return credentials{}, fmt.Errorf("user %q not found in /etc/passwd", u.name)
		}
		if err != nil {
			return credentials{}, fmt.Errorf("user %q: %w", u.name, err)
		}
	} else if entry, err = user.LookupId(strconv.Itoa(u.uid)); err != nil {
		if !errors.As(err, new(user.UnknownUserIdError)) && !errors.Is(err, os.ErrNotExist) {
			return credentials{}, fmt.Errorf("uid %d: %w", u.uid, err)
		}
		entry = nil
	}

	c := credentials{uid: u.uid, gid: u.gid}
	if entry != nil {
		c.uid, _ = strconv.Atoi(entry.Uid)
		if c.gid < 0 {
			c.gid, _ = strconv.Atoi(entry.Gid)
		}
		ids, err := entry.GroupIds()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return credentials{}, fmt.Errorf("groups of user %q: %w", entry.Username, err)
		}
		for _, id := range ids {
			gid, _ := strconv.Atoi(id)
			c.groups = append(c.groups, gid)
		}
	}
	if c.gid < 0 {
		c.gid = c.uid
	}
	return c, nil
}

// dropPrivileges makes the whole init, every thread, the configured user before
// anything is spawned, so that every service and the init itself run without
// root; then it checks that root cannot be regained. It refuses to run services
// as root unless allowed. Started as non-root, the init runs services as is.
func (s *supervisor) dropPrivileges() int {
	if os.Geteuid() != 0 {
		fields := []zap.Field{zap.Int("uid", os.Geteuid()), zap.Int("gid", os.Getegid())}
		if s.user.spec != "" {
			s.log.Warn("not started as root: user "+s.user.spec+" not switched to; services run as is", fields...)
		} else {
			s.log.Info("not started as root: services run as is", fields...)
		}
		return 0
	}
	refuse := func() int {
		s.log.Error("refusing to run services as root",
			zap.String("hint", "set --user/TENANT_INIT_USER to an unprivileged user, or --allow-root/TENANT_INIT_ALLOW_ROOT=1"))
		return ExitNoPermission
	}
	if s.user.spec == "" {
		if !s.root {
			return refuse()
		}
		s.log.Warn("running services as root, as allowed")
		return 0
	}
	c, err := s.user.resolve()
	if err != nil {
		s.log.Error("cannot drop privileges: "+err.Error(), zap.String("user", s.user.spec),
			zap.String("hint", "name a user of /etc/passwd, or give a numeric uid or uid:gid"))
		return ExitNoPermission
	}
	if c.uid == 0 {
		if !s.root {
			return refuse()
		}
		s.log.Warn("running services as root, as allowed", zap.String("user", s.user.spec))
		return 0
	}
	if err := setCredentials(c); err != nil {
		s.log.Error("cannot drop privileges: "+err.Error(), zap.String("user", s.user.spec))
		return ExitNoPermission
	}
	s.log.Info("privileges dropped", zap.String("user", s.user.spec), zap.Int("uid", c.uid),
		zap.Int("gid", c.gid), zap.Ints("groups", c.groups))
	return 0
}

// setCredentials switches every thread (Go ≥ 1.16) to c, groups first: once the
// uid is not 0 nothing else may change.
func setCredentials(c credentials) error {
	if err := syscall.Setgroups(c.groups); err != nil {
		return os.NewSyscallError("setgroups", err)
	}
	if err := syscall.Setgid(c.gid); err != nil {
		return os.NewSyscallError("setgid", err)
	}
	if err := syscall.Setuid(c.uid); err != nil {
		return os.NewSyscallError("setuid", err)
	}
	if syscall.Setuid(0) == nil {
		return errors.New("root could be regained after setuid")
	}
	if os.Getuid() != c.uid || os.Geteuid() != c.uid || os.Getgid() != c.gid || os.Getegid() != c.gid {
		return fmt.Errorf("ids are %d/%d:%d/%d after the switch", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	return nil
}
