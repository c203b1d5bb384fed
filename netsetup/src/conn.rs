//! The request/reply protocol over a [`Transport`]: sequence numbers, ACKs, multi-part dumps,
//! nfnetlink batches, and `NLMSG_ERROR` turned into an [`Error`] naming the operation.

use crate::error::{Error, Result};
use crate::nl::{self, Header, Msg, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_REQUEST};
use crate::socket::Transport;
use std::fmt::Display;

const EAGAIN: i32 = 11;
const ENOBUFS: i32 = 105;
const EBADMSG: i32 = 74;

/// `NFNL_MSG_BATCH_BEGIN` / `NFNL_MSG_BATCH_END` (`linux/netfilter/nfnetlink.h`).
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
/// `NFNL_SUBSYS_NFTABLES`, sent big-endian in the batch header's `res_id`.
const NFNL_SUBSYS_NFTABLES: u16 = 10;

/// A netlink connection: a transport plus the sequence counter and a receive buffer.
#[derive(Debug)]
pub struct Conn<T: Transport> {
    transport: T,
    seq: u32,
    rbuf: Vec<u8>,
}

/// What one reply message means for the request it answers.
enum Reply {
    /// A data message (a dump part, a `GET` answer, an nftables echo).
    Data,
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// `NLMSG_ERROR` with an errno, or `NLMSG_DONE` carrying one.
    Errno(i32),
    /// `NLMSG_DONE`.
    Done,
}

fn classify(h: &Header<'_>, what: &dyn Display) -> Result<Reply> {
    match h.ty {
        NLMSG_ERROR => {
            let err = nl::read_i32(h.payload, 0).ok_or_else(|| Error::msg(what, "malformed netlink error reply"))?;
            Ok(if err == 0 { Reply::Ack } else { Reply::Errno(err.saturating_neg()) })
        }
        NLMSG_DONE => match nl::read_i32(h.payload, 0) {
            Some(err) if err < 0 => Ok(Reply::Errno(err.saturating_neg())),
            _ => Ok(Reply::Done),
        },
        NLMSG_OVERRUN => Err(Error::sys(what, ENOBUFS)),
        _ => Ok(Reply::Data),
    }
}

impl<T: Transport> Conn<T> {
    /// A connection over `transport`; sequence numbers start at 1.
    pub fn new(transport: T) -> Conn<T> {
        Conn { transport, seq: 0, rbuf: Vec::new() }
    }

    /// The transport (tests read a [`crate::Replay`]'s recorded requests through this).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (tests queue replies through this).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport, ending the connection.
    pub fn into_transport(self) -> T {
        self.transport
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    fn send(&mut self, bytes: &[u8], what: &dyn Display) -> Result<()> {
        self.transport
            .send(bytes)
            .map_err(|e| Error::sys(format_args!("{what}: send netlink request"), e.raw_os_error()))
    }

    fn recv(&mut self, what: &dyn Display) -> Result<()> {
        self.transport
            .recv(&mut self.rbuf)
            .map_err(|e| Error::sys(format_args!("{what}: receive netlink reply"), e.raw_os_error()))
    }

    /// Sends `msg` with `NLM_F_ACK`; calls `on_data` for each data message answering it and
    /// returns at the kernel's acknowledgement. An `NLMSG_ERROR` becomes `<what>: <errno>`.
    pub fn request(
        &mut self,
        msg: Msg,
        what: &dyn Display,
        on_data: &mut dyn FnMut(&Header<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut bytes = msg.finish().map_err(|e| e.context(what))?;
        or_flags(&mut bytes, NLM_F_ACK);
        let seq = self.next_seq();
        nl::set_seq(&mut bytes, seq);
        injected_fault(what)?;
        self.send(&bytes, what)?;
        loop {
            self.recv(what)?;
            let rbuf = std::mem::take(&mut self.rbuf);
            let mut outcome = None;
            for h in nl::messages(&rbuf).filter(|h| h.seq == seq) {
                match classify(&h, what) {
                    Ok(Reply::Data) => {
                        if let Err(e) = on_data(&h) {
                            outcome = Some(Err(e));
                            break;
                        }
                    }
                    Ok(Reply::Ack) | Ok(Reply::Done) => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Ok(Reply::Errno(e)) => {
                        outcome = Some(Err(Error::sys(what, e)));
                        break;
                    }
                    Err(e) => {
                        outcome = Some(Err(e));
                        break;
                    }
                }
            }
            self.rbuf = rbuf;
            if let Some(o) = outcome {
                return o;
            }
        }
    }

    /// Sends `msg` with `NLM_F_ACK` and waits for the acknowledgement.
    pub fn ack(&mut self, msg: Msg, what: &dyn Display) -> Result<()> {
        self.request(msg, what, &mut |_| Ok(()))
    }

    /// Runs a dump (`msg` built with `NLM_F_DUMP`), calling `on_data` for every part until
    /// `NLMSG_DONE`. A dump the kernel marks interrupted fails with `EAGAIN` so the caller
    /// can run it again.
    pub fn dump(
        &mut self,
        msg: Msg,
        what: &dyn Display,
        on_data: &mut dyn FnMut(&Header<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut bytes = msg.finish().map_err(|e| e.context(what))?;
        let seq = self.next_seq();
        nl::set_seq(&mut bytes, seq);
        injected_fault(what)?;
        self.send(&bytes, what)?;
        let mut interrupted = false;
        loop {
            self.recv(what)?;
            let rbuf = std::mem::take(&mut self.rbuf);
            let mut outcome = None;
            for h in nl::messages(&rbuf).filter(|h| h.seq == seq) {
                interrupted |= h.flags & NLM_F_DUMP_INTR != 0;
                let step = match classify(&h, what) {
                    Ok(Reply::Data) => on_data(&h).map(|_| false),
                    Ok(Reply::Done) | Ok(Reply::Ack) => Ok(true),
                    Ok(Reply::Errno(e)) => Err(Error::sys(what, e)),
                    Err(e) => Err(e),
                };
                match step {
                    Ok(false) => {}
                    Ok(true) => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Err(e) => {
                        outcome = Some(Err(e));
                        break;
                    }
                }
            }
            self.rbuf = rbuf;
            match outcome {
                Some(Ok(())) if interrupted => {
                    return Err(Error::sys(format_args!("{what}: dump interrupted by a concurrent change"), EAGAIN))
                }
                Some(o) => return o,
                None => {}
            }
        }
    }

    /// Sends `msgs` (queries, each with `NLM_F_ACK`) in one datagram and waits until every
    /// one is answered; one syscall out however many there are. For each, in order: the last
    /// data message's payload (or none) and the errno it ended with (0 for an ACK). A fault
    /// injected for `what` fails them all.
    pub fn queries(&mut self, msgs: Vec<Msg>, what: &dyn Display) -> Result<Vec<(Option<Vec<u8>>, i32)>> {
        let count = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
        if self.seq.checked_add(count.saturating_add(1)).is_none() {
            self.seq = 0;
        }
        let first_seq = self.seq.wrapping_add(1);
        let mut buf = Vec::new();
        for msg in msgs {
            let mut bytes = msg.finish().map_err(|e| e.context(what))?;
            or_flags(&mut bytes, NLM_F_ACK);
            nl::set_seq(&mut bytes, self.next_seq());
            buf.extend_from_slice(&bytes);
        }
        let mut out: Vec<(Option<Vec<u8>>, Option<i32>)> = vec![(None, None); count as usize];
        if out.is_empty() {
            return Ok(Vec::new());
        }
        injected_fault(what)?;
        self.send(&buf, what)?;
        let pending = out.len();
        self.receive_answers(what, pending, &mut |h| {
            let Some(slot) = h.seq.checked_sub(first_seq).and_then(|i| out.get_mut(i as usize)) else {
                return Ok(false);
            };
            if slot.1.is_some() {
                return Ok(false);
            }
            match classify(h, what)? {
                Reply::Data => slot.0 = Some(h.payload.to_vec()),
                Reply::Ack | Reply::Done => slot.1 = Some(0),
                Reply::Errno(e) => slot.1 = Some(e),
            }
            Ok(slot.1.is_some())
        })?;
        Ok(out.into_iter().map(|(d, e)| (d, e.unwrap_or(0))).collect())
    }

    /// Sends `msgs` as one nfnetlink batch (`NFNL_MSG_BATCH_BEGIN` ... `END`, each message
    /// with `NLM_F_ACK`) and waits until every message is answered. The kernel applies the
    /// batch atomically: on any error nothing changes, and the first error is returned with
    /// that message's `what`. `on_echo(i, msg)` sees replies to message `i` that are not
    /// ACKs (the rules echoed back with `NLM_F_ECHO`).
    pub fn batch(
        &mut self,
        msgs: Vec<(Msg, String)>,
        on_echo: &mut dyn FnMut(usize, &Header<'_>) -> Result<()>,
    ) -> Result<()> {
        let Some(first_what) = msgs.first().map(|m| m.1.clone()) else {
            return Ok(());
        };
        // Keep the batch's sequence numbers contiguous: start over rather than wrap inside it.
        let count = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
        if self.seq.checked_add(count.saturating_add(2)).is_none() {
            self.seq = 0;
        }
        let mut buf = Vec::with_capacity(256 * (msgs.len() + 1));
        let begin_seq = self.next_seq();
        buf.extend_from_slice(&batch_marker(NFNL_MSG_BATCH_BEGIN, begin_seq));
        let mut whats = Vec::with_capacity(msgs.len());
        for (msg, what) in msgs {
            let mut bytes = msg.finish().map_err(|e| e.context(&what))?;
            or_flags(&mut bytes, NLM_F_ACK);
            nl::set_seq(&mut bytes, self.next_seq());
            buf.extend_from_slice(&bytes);
            whats.push(what);
        }
        let end_seq = self.next_seq();
        buf.extend_from_slice(&batch_marker(NFNL_MSG_BATCH_END, end_seq));
        injected_fault(&first_what)?;
        self.send(&buf, &first_what)?;

        let mut answered = vec![false; whats.len()];
        let mut first_err: Option<Error> = None;
        self.receive_answers(&first_what, whats.len(), &mut |h| {
            // Errors about the batch itself (no permission, no nf_tables) answer the BEGIN
            // message and end the batch: no other reply follows.
            if h.seq == begin_seq {
                return match classify(h, &first_what) {
                    Ok(Reply::Errno(e)) => Err(Error::sys(&first_what, e)),
                    _ => Ok(false),
                };
            }
            let Some(i) = h.seq.checked_sub(begin_seq).and_then(|d| d.checked_sub(1)) else {
                return Ok(false);
            };
            let i = i as usize;
            let Some(what) = whats.get(i) else { return Ok(false) };
            match classify(h, what)? {
                Reply::Data => {
                    if let Err(e) = on_echo(i, h) {
                        first_err.get_or_insert(e);
                    }
                    Ok(false)
                }
                _ if answered[i] => Ok(false),
                reply => {
                    answered[i] = true;
                    if let Reply::Errno(e) = reply {
                        first_err.get_or_insert(Error::sys(what, e));
                    }
                    Ok(true)
                }
            }
        })?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<T: Transport> Conn<T> {
    /// Receives datagrams until `pending` requests are answered: `on_msg` sees every message
    /// and tells whether it was a final answer; its error ends the wait.
    fn receive_answers(
        &mut self,
        what: &dyn Display,
        mut pending: usize,
        on_msg: &mut dyn FnMut(&Header<'_>) -> Result<bool>,
    ) -> Result<()> {
        while pending > 0 {
            self.recv(what)?;
            let rbuf = std::mem::take(&mut self.rbuf);
            let mut fatal = None;
            for h in nl::messages(&rbuf) {
                match on_msg(&h) {
                    Ok(true) => pending = pending.saturating_sub(1),
                    Ok(false) => {}
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            }
            self.rbuf = rbuf;
            if let Some(e) = fatal {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The test seam (`fault.rs`): a request the seam fails is not sent and reads as refused.
#[inline(always)]
fn injected_fault(what: &dyn Display) -> Result<()> {
    match crate::fault::check(what) {
        Some(errno) => Err(Error::sys(what, errno)),
        None => Ok(()),
    }
}

/// Sets extra `nlmsg_flags` bits on a finished message.
fn or_flags(msg: &mut [u8], flags: u16) {
    if let Some(f) = nl::read_u16(msg, 6) {
        msg[6..8].copy_from_slice(&(f | flags).to_ne_bytes());
    }
}

/// A batch BEGIN/END message: `nlmsghdr` + `nfgenmsg { AF_UNSPEC, NFNETLINK_V0, res_id }`.
fn batch_marker(ty: u16, seq: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..4].copy_from_slice(&20u32.to_ne_bytes());
    m[4..6].copy_from_slice(&ty.to_ne_bytes());
    m[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m[18..20].copy_from_slice(&NFNL_SUBSYS_NFTABLES.to_be_bytes());
    m
}

/// Retries `f` while it fails with `EAGAIN` (an interrupted dump), at most three times.
pub fn retry_dump<R>(mut f: impl FnMut() -> Result<R>) -> Result<R> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.errno() == Some(EAGAIN) && tries < 2 => tries += 1,
            r => return r,
        }
    }
}

/// The error for a reply the parser could not make sense of.
pub fn malformed(what: &dyn Display) -> Error {
    Error::sys(format_args!("{what}: malformed reply"), EBADMSG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Replay;
    use crate::testutil::{ack, done, err, msg};

    fn conn(replies: Vec<Vec<u8>>) -> Conn<Replay> {
        Conn::new(Replay::new(replies))
    }

    #[test]
    fn ack_sets_flag_and_sequence() {
        let mut c = conn(vec![ack(1)]);
        c.ack(Msg::new(16, 0), &"create link x").unwrap();
        let sent = &c.transport().sent[0];
        assert_eq!(&sent[4..12], &[16, 0, 5, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn errors_name_the_operation() {
        for (errno, text) in [(17, "file exists"), (19, "no such device"), (1, "operation not permitted")] {
            let mut c = conn(vec![err(1, errno)]);
            let e = c.ack(Msg::new(16, 0), &"create veth ve-foo/host0").unwrap_err();
            assert_eq!(e.to_string(), format!("create veth ve-foo/host0: {text}"));
            assert_eq!(e.errno(), Some(errno));
        }
    }

    #[test]
    fn stale_replies_with_other_sequence_numbers_are_skipped() {
        let mut stale = err(7, 17);
        stale.extend_from_slice(&ack(2));
        let mut c = conn(vec![ack(1), stale]);
        c.ack(Msg::new(16, 0), &"a").unwrap();
        c.ack(Msg::new(16, 0), &"b").unwrap();
    }

    #[test]
    fn dump_collects_parts_across_datagrams_until_done() {
        let mut d1 = msg(16, 2, 1, &[1]);
        d1.extend_from_slice(&msg(16, 2, 1, &[2]));
        let mut d2 = msg(16, 2, 1, &[3]);
        d2.extend_from_slice(&done(1));
        let mut c = conn(vec![d1, d2]);
        let mut got = vec![];
        c.dump(Msg::new(18, 0x300), &"list links", &mut |h| {
            got.push(h.payload[0]);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(c.transport().unread(), 0);
    }

    #[test]
    fn interrupted_dump_asks_for_a_retry() {
        let mut d = msg(16, 2 | NLM_F_DUMP_INTR, 1, &[1]);
        d.extend_from_slice(&done(1));
        let mut c = conn(vec![d]);
        let e = c.dump(Msg::new(18, 0x300), &"list links", &mut |_| Ok(())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "list links: dump interrupted by a concurrent change: resource temporarily unavailable"
        );
        let mut n = 0;
        let r: Result<()> = retry_dump(|| {
            n += 1;
            Err(Error::sys("x", EAGAIN))
        });
        assert!(r.is_err());
        assert_eq!(n, 3);
    }

    #[test]
    fn missing_reply_is_an_error_not_a_hang() {
        let mut c = conn(vec![]);
        let e = c.ack(Msg::new(16, 0), &"set link up ve-foo").unwrap_err();
        assert_eq!(e.to_string(), "set link up ve-foo: receive netlink reply: resource temporarily unavailable");
    }

    #[test]
    fn queries_go_out_in_one_datagram_and_are_answered_in_order() {
        // Three queries (seq 1..3): the second gets data then its ACK, the third an error,
        // the first an ACK; replies in two datagrams, out of order, with a stale one mixed in.
        let mut d1 = err(3, 101);
        d1.extend_from_slice(&msg(24, 0, 2, &[7, 7]));
        d1.extend_from_slice(&err(9, 17));
        let mut d2 = ack(2);
        d2.extend_from_slice(&ack(1));
        let mut c = conn(vec![d1, d2]);
        let got = c.queries(vec![Msg::new(26, 0), Msg::new(26, 0), Msg::new(26, 0)], &"look up routes").unwrap();
        assert_eq!(got, [(None, 0), (Some(vec![7, 7]), 0), (None, 101)]);
        let sent = &c.transport().sent;
        assert_eq!(sent.len(), 1, "one datagram");
        assert_eq!(sent[0].len(), 3 * 16);
        for (i, m) in sent[0].chunks(16).enumerate() {
            assert_eq!(&m[4..12], &[26, 0, 5, 0, i as u8 + 1, 0, 0, 0], "type, REQUEST|ACK, seq");
        }
        assert_eq!(c.transport().unread(), 0);
        assert_eq!(c.queries(vec![], &"nothing").unwrap(), []);
        let e = conn(vec![]).queries(vec![Msg::new(26, 0)], &"look up routes").unwrap_err();
        assert_eq!(e.to_string(), "look up routes: receive netlink reply: resource temporarily unavailable");
    }

    #[test]
    fn batch_wraps_messages_and_reports_the_failing_one() {
        // BEGIN=1, a=2, b=3, END=4: b fails, a is acked.
        let mut d = ack(2);
        d.extend_from_slice(&err(3, 2));
        let mut c = conn(vec![d]);
        let msgs = vec![
            (Msg::new(0x0a00, 0), "add table ip spawnbox".to_string()),
            (Msg::new(0x0a08, 0), "delete rule 4".to_string()),
        ];
        let e = c.batch(msgs, &mut |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "delete rule 4: no such file or directory");
        let sent = &c.transport().sent[0];
        assert_eq!(sent.len(), 20 + 16 + 16 + 20);
        assert_eq!(&sent[..20], &batch_marker(NFNL_MSG_BATCH_BEGIN, 1));
        assert_eq!(&sent[20..32], &[16, 0, 0, 0, 0, 0x0a, 5, 0, 2, 0, 0, 0]);
        assert_eq!(&sent[52..], &batch_marker(NFNL_MSG_BATCH_END, 4));
        assert_eq!(&sent[52..56], &[20, 0, 0, 0]);
    }

    #[test]
    fn batch_sequence_numbers_never_wrap_inside_a_batch() {
        let mut c = conn(vec![[ack(2), ack(3)].concat()]);
        c.seq = u32::MAX - 2;
        let msgs = vec![(Msg::new(0x0a00, 0), "a".to_string()), (Msg::new(0x0a00, 0), "b".to_string())];
        c.batch(msgs, &mut |_, _| Ok(())).unwrap();
        assert_eq!(&c.transport().sent[0][8..12], &1u32.to_ne_bytes());
    }

    #[test]
    fn batch_error_on_begin_ends_the_batch() {
        let mut c = conn(vec![err(1, 1)]);
        let msgs = vec![(Msg::new(0x0a00, 0), "add table ip spawnbox".to_string())];
        let e = c.batch(msgs, &mut |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "add table ip spawnbox: operation not permitted");
    }
}
