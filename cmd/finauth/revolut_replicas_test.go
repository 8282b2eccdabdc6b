package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/finauth/finauth/integration/revolutmock"
	"github.com/finauth/finauth/testkit/redistest"
)

// revolutConsent creates an accounts consent with the CLI, has the mock's user authorise
// it, and exchanges the code with token revolut --code --consent, which keeps the consent's
// tokens in the shared store of env: the consent's ID.
func revolutConsent(t *testing.T, m *revolutmock.Server, env map[string]string) string {
	t.Helper()
	r := finauth(t, env, "", "call", "--profile", "revolut", "-X", "POST", "--data", `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`, m.URL+revolutmock.AccountConsentsPath)
	var consent struct{ Data struct{ ConsentID string } }
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &consent) != nil || consent.Data.ConsentID == "" {
		t.Fatalf("consent: %+v", r)
	}
	id := consent.Data.ConsentID
	link := finauth(t, env, "", "authorize", "revolut", "--consent", id, "--scope", "accounts")
	back, err := m.PKI.Authorise(strings.TrimSpace(link.stdout))
	if err != nil {
		t.Fatalf("authorise: %v (%+v)", err, link)
	}
	r = finauth(t, env, "", "token", "revolut", "--code", back.Query().Get("code"), "--consent", id)
	if r.code != exitOK || !strings.Contains(r.stdout, `"refresh_token_expires_at"`) {
		t.Fatalf("token --code --consent: %+v", r)
	}
	return id
}

// socketOwner returns which of pids has a TCP socket whose local port is port (from
// /proc/net/tcp and each process's file descriptors), or 0.
func socketOwner(port int, pids []int) int {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	for _, pid := range pids {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if link, err := os.Readlink(fd); err == nil && inodes[link] {
				return pid
			}
		}
	}
	return 0
}

// Four replicas (separate finauth load processes sharing Redis) read one consent's accounts
// while its access token is renewed; the replica making the first renewal is killed
// (SIGKILL) while the token endpoint holds its refresh grant. Against a server that rotates
// refresh tokens (and revokes the consent when one is presented twice) and one that does
// not: the consent survives (the others renew it once the dead one's lock has expired, and a
// process started afterwards reads with it), no refresh token is presented twice, and the
// surviving replicas' requests all succeed.
func TestCLI_AConsentSurvivesTheRenewingReplicaKilledMidRenewal(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("finds the renewing process through /proc")
	}
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotating=%v", rotate), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			var mu sync.Mutex
			var pids []int
			killed := 0
			m, env := revolutEnvWith(t, func(c *revolutmock.Config) {
				// 20 s tokens: renewed ahead about 6 s after they are issued, usable for 10 s
				// (a safety margin of half their life), valid for 20.
				c.TokenLifetime, c.RotateRefreshTokens, c.RefreshDelay = 20*time.Second, rotate, time.Second
				c.OnRefresh = func(remote string) {
					_, p, _ := net.SplitHostPort(remote)
					port, _ := strconv.Atoi(p)
					mu.Lock()
					defer mu.Unlock()
					if killed != 0 {
						return
					}
					if pid := socketOwner(port, pids); pid != 0 {
						killed = pid
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			env["FINAUTH_REDIS_URL"] = srv.URL()
			env["FINAUTH_CACHE_KEY"] = cacheKey
			id := revolutConsent(t, m, env)

			type replica struct {
				cmd            *exec.Cmd
				stdout, stderr bytes.Buffer
			}
			reps := make([]*replica, 4)
			mu.Lock()
			for i := range reps {
				r := &replica{cmd: exec.Command(bin, "load", "--profile", "revolut", "--consent", id, "--fetch-timeout", "4s",
					"--duration", "16s", "-c", "2", "--json", m.URL+revolutmock.AccountsPath)}
				for k, v := range env {
					r.cmd.Env = append(r.cmd.Env, k+"="+v)
				}
				r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
				if err := r.cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.cmd.Process.Kill() })
				pids = append(pids, r.cmd.Process.Pid)
				reps[i] = r
			}
			mu.Unlock()
			for _, r := range reps {
				r.cmd.Wait()
			}
			mu.Lock()
			victim := killed
			mu.Unlock()
			if victim == 0 {
				t.Fatalf("no replica was renewing: the mock saw %+v", m.Stats())
			}
			for i, r := range reps {
				if r.cmd.Process.Pid == victim {
					continue
				}
				var s loadSummary
				if err := json.Unmarshal(r.stdout.Bytes(), &s); err != nil || s.Requests == 0 || s.OK != s.Requests {
					t.Errorf("surviving replica %d: %+v (%v)\n%s", i, s, err, r.stderr.String())
				}
			}
			st := m.Stats()
			t.Logf("killed pid %d mid-renewal; %d renewals, %d abandoned, %d refresh tokens reused, refusals %v", victim, st.Tokens["refresh_token"], st.RefreshAbandoned, st.RefreshReuses, st.Rejections)
			if st.RefreshAbandoned != 1 || st.Tokens["refresh_token"] < 1 {
				t.Fatalf("want the killed replica's renewal abandoned and another replica's made: %+v", st)
			}
			if st.RefreshReuses != 0 {
				t.Fatalf("%d refresh tokens presented twice", st.RefreshReuses)
			}
			// The consent survives: a process started now, whose adopted access token the API
			// rejects, renews it with the refresh token the fleet stored last (with a rotating
			// server, any older one would be a reuse that revokes the consent).
			// The 401 is aimed at that process's request: a replica's last request may still
			// be in its handler after the replica exited, and took an untargeted one (seen:
			// the call's one request got 200 and no renewal was made).
			m.Fail401With(1, "X-Finauth-Test")
			r := finauth(t, env, "", "call", "-v", "-H", "X-Finauth-Test: after-the-run", "--profile", "revolut", "--consent", id, m.URL+revolutmock.AccountsPath)
			if r.code != exitOK {
				t.Fatalf("after the run: %+v (%+v)", r, m.Stats())
			}
			if after := m.Stats(); after.RefreshReuses != 0 || after.Tokens["refresh_token"] != st.Tokens["refresh_token"]+1 {
				t.Fatalf("the renewal after the run: %+v\n%s", after, r.stderr)
			}
		})
	}
}
