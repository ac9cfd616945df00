# make && make install [PREFIX=/usr/local] [DESTDIR=]; make uninstall.
# Installs sbin/inetd, the man pages and the sample configuration; the init
# files for each init system are in contrib/ (see contrib/README.md).
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/inetd
CARGO ?= cargo
INSTALL ?= install
# The binary to install: the static build's, say, with
# BIN=target/x86_64-unknown-linux-musl/release/inetd.
BIN ?= target/release/inetd

all: $(BIN)

target/release/inetd: FORCE
	$(CARGO) build --release --locked

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(SBINDIR)/inetd
	$(INSTALL) -m 644 man/inetd.8 $(DESTDIR)$(MANDIR)/man8/inetd.8
	$(INSTALL) -m 644 man/inetd.conf.5 $(DESTDIR)$(MANDIR)/man5/inetd.conf.5
	$(INSTALL) -m 644 inetd.conf.sample README.md LICENSE $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/inetd $(DESTDIR)$(MANDIR)/man8/inetd.8 \
	    $(DESTDIR)$(MANDIR)/man5/inetd.conf.5 $(DESTDIR)$(DOCDIR)/inetd.conf.sample \
	    $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/LICENSE
	-rmdir $(DESTDIR)$(DOCDIR)

# mandoc -Tlint (CI runs it).
lint-man:
	mandoc -Tlint -Wwarning man/inetd.8 man/inetd.conf.5

FORCE:
.PHONY: all install uninstall lint-man FORCE
