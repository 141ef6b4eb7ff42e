// SPDX-License-Identifier: GPL-2.0
/* netmon: observe-only eBPF programs for secmon's network monitor.
 *
 * Tracepoints (tp_btf) cannot change what the kernel does. The cgroup
 * programs could refuse a bind or a socket release by returning 0; every one
 * of them returns 1 (allow) on every path, and netmon's tests check each
 * exit of the compiled object. fentry/fexit would be simpler, but the kernel
 * refuses them under lockdown=integrity (Secure Boot), where these load.
 *
 * Regenerate the Go bindings and objects (needs clang and the libbpf
 * headers) with `go generate ./service/internal/netmon/`.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define BPF_ANY 0
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3

/* What cgroup programs return: let the operation go on. */
#define ALLOW 1

enum kind {
	K_LISTEN = 1,       /* a TCP socket entered LISTEN (port 0: listen() is picking one) */
	K_LISTEN_CLOSE = 2, /* a TCP socket left LISTEN */
	K_UDP_BIND = 3,     /* a UDP socket was bound to a port it asked for */
	K_UDP_CLOSE = 4,    /* such a UDP socket was released */
	K_CONNECT_OUT = 5,  /* an outbound TCP connection was established */
	K_CONNECT_IN = 6,   /* an inbound TCP connection was established */
	K_TOUCH_TCP = 7,    /* a TCP segment reached a port with no socket (reset sent) */
	K_TOUCH_UDP = 8,    /* a UDP datagram reached a closed port (ICMP port unreachable, IPv4) */
};

struct event {
	__u64 cookie;
	__u64 drops; /* ring buffer reservations that failed so far (a running total) */
	__u32 pid;   /* tgid; 0 when the kernel was not acting for a process */
	__u8 kind;
	__u8 family;
	__u8 protocol;
	__u8 _pad;
	__u16 lport; /* host byte order */
	__u16 rport;
	__u8 laddr[16]; /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[16];
};

/* Keep struct event and enum kind in the object's BTF for bpf2go's -type
 * event and -type kind: the Go side's record layout and kind constants are
 * generated from them. */
const struct event *unused_event __attribute__((unused));
const enum kind *unused_kind __attribute__((unused));

/* Only this network namespace is reported (0: every one). Tracepoints see
 * the inode, cgroup programs the cookie. */
volatile const __u32 netns_ino = 0;
volatile const __u64 netns_cookie = 0;

__u64 drops = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct owner {
	__u32 pid;
	char comm[16];
};

/* Connecting sockets: who called connect(), until the handshake ends. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct owner);
} connecting SEC(".maps");

/* UDP sockets whose bind() named a port (not 0): set before the bind, read
 * once it succeeded. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} udp_asked SEC(".maps");

/* UDP sockets reported as bound, so their release is reported too. User
 * space adds those found at start. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} udp_bound SEC(".maps");

struct touch_key {
	__u8 addr[16];
	__u16 port;
	__u8 kind;
	__u8 family;
};

/* The same remote touching the same port again within a second is one
 * touch: a flood from one source costs one event a second per port. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct touch_key);
	__type(value, __u64);
} touched SEC(".maps");

static __always_inline struct event *reserve(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->drops = drops;
	return e;
}

static __always_inline void fill_current(struct event *e)
{
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

static __always_inline bool net_ok(struct net *net)
{
	return netns_ino == 0 || BPF_CORE_READ(net, ns.inum) == netns_ino;
}

static __always_inline void fill_sock(struct event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline void emit_sock(const struct sock *sk, __u64 cookie, __u8 kind, bool current)
{
	struct event *e = reserve();
	if (!e)
		return;
	e->kind = kind;
	e->cookie = cookie;
	fill_sock(e, sk);
	if (current)
		fill_current(e);
	bpf_ringbuf_submit(e, 0);
}

/* TCP state changes: listeners opened and closed, connections established. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    !net_ok(BPF_CORE_READ(sk, __sk_common.skc_net.net)))
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);

	if (newstate == TCP_LISTEN) {
		/* listen() runs in the caller's context. */
		emit_sock(sk, cookie, K_LISTEN, true);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		/* (A connection's socket is cloned from its listener and so also
		 * leaves LISTEN, for SYN_RECV: not a listener closing.) */
		emit_sock(sk, cookie, K_LISTEN_CLOSE, true);
	} else if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		/* connect() runs in the caller's context: remember who. */
		struct owner o = {};
		o.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(o.comm, sizeof(o.comm));
		bpf_map_update_elem(&connecting, &cookie, &o, BPF_ANY);
	} else if (oldstate == TCP_SYN_SENT) {
		/* The handshake ends in softirq context: the owner is the one
		 * remembered. A refused or timed-out attempt is not reported. */
		struct owner *o = bpf_map_lookup_elem(&connecting, &cookie);
		if (newstate == TCP_ESTABLISHED) {
			struct event *e = reserve();
			if (e) {
				e->kind = K_CONNECT_OUT;
				e->cookie = cookie;
				fill_sock(e, sk);
				if (o) {
					e->pid = o->pid;
					__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
				}
				bpf_ringbuf_submit(e, 0);
			}
		}
		if (o)
			bpf_map_delete_elem(&connecting, &cookie);
	} else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* softirq: user space names the listener's owner. */
		emit_sock(sk, cookie, K_CONNECT_IN, false);
	}
	return 0;
}

static __always_inline bool sock_net_ok(void *ctx)
{
	return netns_cookie == 0 || bpf_get_netns_cookie(ctx) == netns_cookie;
}

/* Before a bind: note UDP sockets that ask for a port. A bind to port 0
 * takes an ephemeral client port: not a service, not reported. */
static __always_inline int pre_bind(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_UDP && ctx->user_port != 0 && sock_net_ok(ctx)) {
		__u64 cookie = bpf_get_socket_cookie(ctx);
		__u8 one = 1;
		bpf_map_update_elem(&udp_asked, &cookie, &one, BPF_ANY);
	}
	return ALLOW;
}

SEC("cgroup/bind4")
int bind4(struct bpf_sock_addr *ctx)
{
	return pre_bind(ctx);
}

SEC("cgroup/bind6")
int bind6(struct bpf_sock_addr *ctx)
{
	return pre_bind(ctx);
}

/* After the kernel gave the port: report the UDP binds noted above. */
static __always_inline int post_bind(struct bpf_sock *ctx, __u8 family)
{
	if (ctx->protocol != IPPROTO_UDP)
		return ALLOW;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	if (!bpf_map_lookup_elem(&udp_asked, &cookie))
		return ALLOW;
	bpf_map_delete_elem(&udp_asked, &cookie);
	__u8 one = 1;
	bpf_map_update_elem(&udp_bound, &cookie, &one, BPF_ANY);
	struct event *e = reserve();
	if (!e)
		return ALLOW;
	e->kind = K_UDP_BIND;
	e->cookie = cookie;
	e->family = family;
	e->protocol = IPPROTO_UDP;
	e->lport = ctx->src_port;
	if (family == AF_INET6) {
		__u32 *a = (__u32 *)e->laddr;
		a[0] = ctx->src_ip6[0];
		a[1] = ctx->src_ip6[1];
		a[2] = ctx->src_ip6[2];
		a[3] = ctx->src_ip6[3];
	} else {
		*(__u32 *)e->laddr = ctx->src_ip4;
	}
	fill_current(e);
	bpf_ringbuf_submit(e, 0);
	return ALLOW;
}

SEC("cgroup/post_bind4")
int post_bind4(struct bpf_sock *ctx)
{
	return post_bind(ctx, AF_INET);
}

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *ctx)
{
	return post_bind(ctx, AF_INET6);
}

/* Every inet socket's release: report the end of the UDP sockets reported
 * as bound. The kernel shows no addresses here: user space knows them by the
 * cookie. */
SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return ALLOW;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	if (!bpf_map_lookup_elem(&udp_bound, &cookie))
		return ALLOW;
	bpf_map_delete_elem(&udp_bound, &cookie);
	struct event *e = reserve();
	if (!e)
		return ALLOW;
	e->kind = K_UDP_CLOSE;
	e->cookie = cookie;
	e->family = ctx->family;
	e->protocol = IPPROTO_UDP;
	fill_current(e);
	bpf_ringbuf_submit(e, 0);
	return ALLOW;
}

/* A touch: the remote address and local port of an incoming packet, read
 * from its headers. */
static __always_inline int touch(const struct sk_buff *skb, __u8 kind, __u8 proto)
{
	if (!skb)
		return 0;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	if (dev && !net_ok(BPF_CORE_READ(dev, nd_net.net)))
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u8 vihl = 0;
	bpf_probe_read_kernel(&vihl, 1, head + nh);

	struct touch_key k = {};
	__u8 laddr[16] = {};
	__u16 th;
	if ((vihl >> 4) == 4) {
		__u8 p = 0;
		bpf_probe_read_kernel(&p, 1, head + nh + 9);
		if (p != proto)
			return 0;
		k.family = AF_INET;
		bpf_probe_read_kernel(k.addr, 4, head + nh + 12);
		bpf_probe_read_kernel(laddr, 4, head + nh + 16);
		th = nh + (vihl & 0xf) * 4;
	} else if ((vihl >> 4) == 6) {
		__u8 p = 0;
		bpf_probe_read_kernel(&p, 1, head + nh + 6);
		if (p != proto)
			return 0; /* extension headers: not parsed, not counted */
		k.family = AF_INET6;
		bpf_probe_read_kernel(k.addr, 16, head + nh + 8);
		bpf_probe_read_kernel(laddr, 16, head + nh + 24);
		th = nh + 40;
	} else {
		return 0;
	}
	__u16 ports[2] = {};
	bpf_probe_read_kernel(ports, sizeof(ports), head + th);
	k.port = bpf_ntohs(ports[1]);
	k.kind = kind;

	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&touched, &k);
	if (last && now - *last < 1000000000ULL)
		return 0;
	bpf_map_update_elem(&touched, &k, &now, BPF_ANY);

	struct event *e = reserve();
	if (!e)
		return 0;
	e->kind = kind;
	e->family = k.family;
	e->protocol = proto;
	e->lport = k.port;
	e->rport = bpf_ntohs(ports[0]);
	__builtin_memcpy(e->raddr, k.addr, 16);
	__builtin_memcpy(e->laddr, laddr, 16);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* A reset for a segment no socket wanted: a closed port (SYN, FIN, NULL,
 * Xmas or ACK probes alike). Resets on existing sockets are not touches. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(send_reset, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	if (sk)
		return 0;
	return touch(skb, K_TOUCH_TCP, IPPROTO_TCP);
}

/* ICMP port unreachable for a UDP datagram (IPv4 only: ICMPv6 has no such
 * tracepoint). */
SEC("tp_btf/icmp_send")
int BPF_PROG(icmp_send, const struct sk_buff *skb, int type, int code)
{
	if (type != ICMP_DEST_UNREACH || code != ICMP_PORT_UNREACH)
		return 0;
	return touch(skb, K_TOUCH_UDP, IPPROTO_UDP);
}
