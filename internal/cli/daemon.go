package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// daemonFlags are the flags coordinator and worker share.
type daemonFlags struct {
	NATS           string
	ConnectTimeout time.Duration
	Log            LogOptions
}

func (d *daemonFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&d.NATS, "nats", "", "NATS URL, e.g. nats://nats:4222 (default $REDSTAGE_NATS_URL)")
	fs.DurationVar(&d.ConnectTimeout, "connect-timeout", time.Minute, "keep trying the first NATS connection this long (NATS may start later)")
	fs.BoolVar(&d.Log.JSON, "log-json", false, "JSON log lines (also REDSTAGE_LOG_FORMAT=json)")
	fs.StringVar(&d.Log.Level, "log-level", "info", "log level: trace, debug, info, warn, error (also REDSTAGE_LOG_LEVEL)")
}

// resolve applies the environment to flags not given.
func (d *daemonFlags) resolve(cmd *cobra.Command, getenv func(string) string, natsRequired bool) error {
	fs := cmd.Flags()
	if !fs.Changed("nats") {
		d.NATS = envOr(getenv, EnvNATSURL, "")
	}
	d.NATS = strings.TrimSpace(d.NATS)
	if natsRequired && d.NATS == "" {
		return usageErrorf("e.g. --nats nats://127.0.0.1:4222", "%s needs --nats URL (or REDSTAGE_NATS_URL)", cmd.Name())
	}
	if d.ConnectTimeout < 0 {
		return usageErrorf("e.g. --connect-timeout 1m", "--connect-timeout must not be negative")
	}
	lo, err := resolveLogOptions(d.Log, fs.Changed("log-json"), fs.Changed("log-level"), getenv, "info")
	if err != nil {
		return err
	}
	d.Log = lo
	return nil
}

// parseListenAddr parses host:port (":4222" = all interfaces, port 0 = any).
func parseListenAddr(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: want host:port, e.g. 127.0.0.1:4222 or :4222: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port %q is not a number from 0 to 65535", addr, portText)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if port == 0 {
		port = -1 // nats-server: random free port
	}
	return host, port, nil
}
