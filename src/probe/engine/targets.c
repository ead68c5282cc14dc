/* exitprobe — default probe targets on the public network (README: "Default
 * targets"). Two per port, run by different operators: each a large, stable
 * public service that greets every client, so that a failure says something
 * about the exit, not the target; a failure against the first is re-tested
 * on the same circuit against the second before anything is blamed. Never a
 * relay's own address (tor answers that with CONNECTREFUSED). Review the
 * table before each release: services move. */
#include "config.h"

#include "probe/engine/targets.h"

#include <stddef.h>

typedef struct target_row {
  uint16_t port;
  const char *first, *second;
} target_row_t;

static const target_row_t targets[] = {
    /* FTP: the GNU project's archive (FSF) and FAU Erlangen's mirror: anonymous FTP for all. */
    {21, "ftp.gnu.org", "ftp.fau.de"},
    /* SSH: the git hosts every developer reaches over SSH (GitHub, GitLab). */
    {22, "github.com", "gitlab.com"},
    /* SMTP MX: Google's inbound MX (greets "220 mx.google.com") and Riseup's
     * (a collective that serves Tor users; greets "220 mx1.riseup.net"). */
    {25, "gmail-smtp-in.l.google.com", "mx1.riseup.net"},
    /* DNS over TCP: the two largest public resolvers (Google, Cloudflare). */
    {53, "dns.google", "one.one.one.one"},
    /* HTTP: the Tor Project's site and Wikipedia (Wikimedia). */
    {80, "www.torproject.org", "www.wikipedia.org"},
    /* POP3 / IMAP plain ports (STARTTLS offered): GMX (United Internet) and mailbox.org. */
    {110, "pop.gmx.net", "pop3.mailbox.org"},
    {119, "news.eternal-september.org", "news.gmane.io"}, /* free public NNTP servers */
    {143, "imap.gmx.net", "imap.mailbox.org"},
    {443, "www.torproject.org", "www.wikipedia.org"},
    /* Submission (TLS on 465, plain on 587): Google's and GMX's, for their users everywhere. */
    {465, "smtp.gmail.com", "smtp.gmx.net"},
    {587, "smtp.gmail.com", "smtp.gmx.net"},
    {853, "dns.google", "one.one.one.one"},   /* DNS over TLS, same resolvers */
    {993, "imap.gmail.com", "imap.gmx.net"},
    {995, "pop.gmail.com", "pop.gmx.net"},
    /* XMPP: the CCC's long-running public server and xmpp.jp (a large public one). */
    {5222, "jabber.ccc.de", "xmpp.jp"},
    {5223, "jabber.ccc.de", "xmpp.jp"},       /* legacy XMPP over TLS */
    /* IRC: Libera.Chat and OFTC (round robin: the server name varies). */
    {6667, "irc.libera.chat", "irc.oftc.net"},
    {6697, "irc.libera.chat", "irc.oftc.net"},
};

size_t ep_default_targets(uint16_t port, const char *out[2]) {
  out[0] = out[1] = NULL;
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    if (targets[i].port == port) {
      out[0] = targets[i].first;
      out[1] = targets[i].second;
      return 2;
    }
  }
  return 0;
}

const char *ep_default_target(uint16_t port) {
  const char *t[2];
  return ep_default_targets(port, t) > 0 ? t[0] : NULL;
}
