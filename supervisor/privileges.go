package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/agentplatform/tenant-init/logging"
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

// isUserName tells a name of the form useradd accepts: [A-Za-z_][A-Za-z0-9_.-]*
// and a trailing $ for machine accounts. Written out rather than a regular
// expression: PID 1 would link and initialise package regexp for it.
func isUserName(s string) bool {
	s = strings.TrimSuffix(s, "$")
	for i, c := range []byte(s) {
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '.' || c == '-')) {
			return false
		}
	}
	return s != ""
}

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
	case isUserName(spec):
		u.name = spec
	default:
		return User{}, errors.New("not a user name or a number")
	}
	return u, nil
}

func (u User) String() string { return u.spec }

// Credentials are the ids the services run with.
type Credentials struct {
	UID, GID int
	Groups   []int // supplementary groups
}

func (c Credentials) String() string {
	return fmt.Sprintf("uid %d gid %d groups %v", c.UID, c.GID, c.Groups)
}

// resolve finds the user's ids and supplementary groups. A uid unknown to
// /etc/passwd runs with gid = uid (not root's group 0) and no supplementary group.
func (u User) resolve() (Credentials, error) {
	var entry *user.User
	var err error
	if u.name != "" {
		entry, err = user.Lookup(u.name)
		if errors.As(err, new(user.UnknownUserError)) {
			return Credentials{}, fmt.Errorf("user %q not found in /etc/passwd", u.name)
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("user %q: %w", u.name, err)
		}
	} else if entry, err = user.LookupId(strconv.Itoa(u.uid)); err != nil {
		if !errors.As(err, new(user.UnknownUserIdError)) && !errors.Is(err, os.ErrNotExist) {
			return Credentials{}, fmt.Errorf("uid %d: %w", u.uid, err)
		}
		entry = nil
	}

	c := Credentials{UID: u.uid, GID: u.gid}
	if entry != nil {
		c.UID, _ = strconv.Atoi(entry.Uid)
		if c.GID < 0 {
			c.GID, _ = strconv.Atoi(entry.Gid)
		}
		ids, err := entry.GroupIds()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Credentials{}, fmt.Errorf("groups of user %q: %w", entry.Username, err)
		}
		for _, id := range ids {
			gid, _ := strconv.Atoi(id)
			c.Groups = append(c.Groups, gid)
		}
	}
	if c.GID < 0 {
		c.GID = c.UID
	}
	return c, nil
}

// A Drop is what the privilege drop will do, decided before anything changes,
// so that `tenant-init check` reports exactly what the boot would do.
type Drop struct {
	// Switch says the init must become Creds (it runs as root and the user is
	// not root); otherwise the services run with the init's own ids.
	Switch bool
	// Creds are the ids the services will run with.
	Creds Credentials
	// Note describes the outcome for the log, e.g. "running services as root,
	// as allowed"; Warn says it deserves a warning.
	Note string
	Warn bool
}

// A DropError says why the services cannot be started: the user does not
// resolve, or they would run as root without permission. The boot exits 77.
type DropError struct {
	Reason string
	Hint   string
}

func (e *DropError) Error() string { return e.Reason }

// PlanDrop decides the privilege drop for user u, as the boot will do it in a
// process whose effective uid is euid. It changes nothing. Started as non-root,
// the init cannot switch users and runs the services as is.
func PlanDrop(u User, allowRoot bool, euid int) (Drop, error) {
	if euid != 0 {
		self := Credentials{UID: euid, GID: os.Getegid()}
		self.Groups, _ = os.Getgroups()
		if u.spec != "" {
			return Drop{Creds: self, Warn: true, Note: "not started as root: user " + u.spec + " not switched to; services run as is"}, nil
		}
		return Drop{Creds: self, Note: "not started as root: services run as is"}, nil
	}
	refused := &DropError{Reason: "refusing to run services as root",
		Hint: "set --user/TENANT_INIT_USER to an unprivileged user, or --allow-root/TENANT_INIT_ALLOW_ROOT=1"}
	root := Drop{Creds: Credentials{}, Warn: true, Note: "running services as root, as allowed"}
	if u.spec == "" {
		if !allowRoot {
			return Drop{}, refused
		}
		return root, nil
	}
	c, err := u.resolve()
	if err != nil {
		return Drop{}, &DropError{Reason: "cannot drop privileges: " + err.Error(),
			Hint: "name a user of /etc/passwd, or give a numeric uid or uid:gid"}
	}
	if c.UID == 0 {
		if !allowRoot {
			return Drop{}, refused
		}
		return root, nil
	}
	return Drop{Switch: true, Creds: c, Note: "privileges dropped"}, nil
}

// dropPrivileges makes the whole init, every thread, the configured user before
// anything is spawned, so that every service and the init itself run without
// root; then it checks that root cannot be regained. It refuses to run services
// as root unless allowed. Started as non-root, the init runs services as is.
func (s *supervisor) dropPrivileges() int {
	d, err := PlanDrop(s.user, s.root, os.Geteuid())
	var refused *DropError
	if errors.As(err, &refused) {
		fields := []logging.Field{logging.String("hint", refused.Hint)}
		if s.user.spec != "" {
			fields = append(fields, logging.String("user", s.user.spec))
		}
		s.log.Error(refused.Reason, fields...)
		return ExitNoPermission
	}
	ids := []logging.Field{logging.Int("uid", d.Creds.UID), logging.Int("gid", d.Creds.GID)}
	if s.user.spec != "" {
		ids = append([]logging.Field{logging.String("user", s.user.spec)}, ids...)
	}
	if !d.Switch {
		if d.Warn {
			s.log.Warn(d.Note, ids...)
		} else {
			s.log.Info(d.Note, ids...)
		}
		return 0
	}
	if err := setCredentials(d.Creds); err != nil {
		s.log.Error("cannot drop privileges: "+err.Error(), logging.String("user", s.user.spec))
		return ExitNoPermission
	}
	s.log.Info(d.Note, append(ids, logging.Ints("groups", d.Creds.Groups))...)
	return 0
}

// setCredentials switches every thread (Go ≥ 1.16) to c, groups first: once the
// uid is not 0 nothing else may change.
func setCredentials(c Credentials) error {
	if err := syscall.Setgroups(c.Groups); err != nil {
		return os.NewSyscallError("setgroups", err)
	}
	if err := syscall.Setgid(c.GID); err != nil {
		return os.NewSyscallError("setgid", err)
	}
	if err := syscall.Setuid(c.UID); err != nil {
		return os.NewSyscallError("setuid", err)
	}
	if syscall.Setuid(0) == nil {
		return errors.New("root could be regained after setuid")
	}
	if os.Getuid() != c.UID || os.Geteuid() != c.UID || os.Getgid() != c.GID || os.Getegid() != c.GID {
		return fmt.Errorf("ids are %d/%d:%d/%d after the switch", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	return nil
}
