//! Catch-up and resume: which recent frames a client that has `since`
//! (or one frame's position) still needs, from the recent buffer.

use super::{lock, Frame, Hub, Published};
use livedash_shared::{Seqs, Topic};

impl Hub {
    /// The frames published after `since` (per topic), oldest first, or
    /// `None` when some of them already left the recent buffer (or `since`
    /// is ahead of this server: another epoch's seqs). Walks back from the
    /// newest frame only as far as the oldest frame needed, so a catch-up
    /// after a cached snapshot costs what it returns, not the buffer size.
    pub fn frames_since(&self, since: &Seqs) -> Option<Vec<Frame>> {
        Self::frames_in(&lock(&self.state), since)
    }

    /// [`Hub::frames_since`] for a client's `since` from `epoch`: `None`
    /// as well when the epoch is not this stream's (checked under the
    /// same lock, so an epoch change cannot slip in between).
    pub fn frames_resume(&self, since: &Seqs, epoch: &str) -> Option<Vec<Frame>> {
        let st = lock(&self.state);
        if *st.epoch != *epoch {
            return None;
        }
        Self::frames_in(&st, since)
    }

    fn frames_in(st: &Published, since: &Seqs) -> Option<Vec<Frame>> {
        // Topics with frames the caller lacks; each is settled when the
        // walk reaches its frame `since + 1`.
        let mut open = 0usize;
        let mut pending = [false; Topic::ALL.len()];
        for t in Topic::ALL {
            let (have, last) = (since.get(t), st.seq.get(t));
            if have > last {
                return None;
            }
            if have < last {
                pending[t.index()] = true;
                open += 1;
            }
        }
        let mut out = Vec::new();
        for f in st.recent.iter().rev() {
            if open == 0 {
                break;
            }
            let Some(t) = f.topic else { continue };
            let have = since.get(t);
            if f.seq > have {
                out.push(f.clone());
                if f.seq == have + 1 && pending[t.index()] {
                    pending[t.index()] = false;
                    open -= 1;
                }
            }
        }
        if open > 0 {
            return None;
        }
        out.reverse();
        Some(out)
    }

    /// Resume after the frame `(topic, seq)` (a Server-Sent Events
    /// `Last-Event-ID`): each topic's seq now and the frames published
    /// after that one, oldest first; `None` when it is no longer (or never
    /// was) in the recent buffer.
    pub fn frames_after(&self, topic: Topic, seq: u64) -> Option<(Seqs, Vec<Frame>)> {
        let st = lock(&self.state);
        let at = st
            .recent
            .iter()
            .position(|f| f.topic == Some(topic) && f.seq == seq)?;
        Some((st.seq, st.recent.iter().skip(at + 1).cloned().collect()))
    }

    /// The newest frame a snapshot taken at `seqs` covers, as
    /// `(topic, seq)`: the position to resume from after that snapshot.
    /// `None` when it has left the recent buffer (or nothing was published).
    pub fn position_of(&self, seqs: &Seqs) -> Option<(Topic, u64)> {
        let st = lock(&self.state);
        // Seqs are a consistent cut of the publication order (taken under
        // this lock), so the frames they cover are a prefix of `recent`.
        st.recent
            .iter()
            .rev()
            .filter_map(|f| Some((f.topic?, f.seq)))
            .find(|&(t, s)| s <= seqs.get(t))
    }
}
