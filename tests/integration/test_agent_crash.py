"""kill -9 of the agent mid-ingest, rotations, truncation and inode reuse while stopped: every
complete line is counted exactly once (zero difference in every (SLI, minute, class))."""
import os
import random
import threading
import time

import agent_testlib as L
import slt_harness as H


class AgentCrash(L.AgentCase):
    prefix = "slt-agent-crash-"

    def it_counts_every_line_once_across_many_kill9_with_rotations(self):
        self.setup()
        rnd = random.Random(7)
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for round_ in range(20):
                for _ in range(rnd.randint(2, 6)):
                    self.writer.write(rnd.randint(50, 800))
                    time.sleep(rnd.uniform(0.0, 0.08))
                if round_ % 5 == 2:
                    self.writer.rotate_rename()
                    self.writer.write(rnd.randint(10, 300))
                elif round_ % 5 == 4:
                    self.writer.rotate_copytruncate()
                    self.writer.write(rnd.randint(10, 300))
                a.kill9()
                self.writer.write(rnd.randint(0, 200))
                a.start()
                time.sleep(rnd.uniform(0.0, 0.3))
            L.wait_exact(self.fake, [self.writer], timeout=40)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_counts_a_line_that_was_partial_at_kill_time_once(self):
        self.setup()
        try:
            self.writer.write(100)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            self.writer.write_partial()
            time.sleep(0.5)
            a.kill9()
            self.writer.write(5)  # completes the partial line first
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_rereads_a_file_truncated_while_stopped(self):
        self.setup()
        try:
            self.writer.write(1000)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
            with open(self.writer.path, "r+") as f:
                f.truncate(0)
            self.writer.write(100)  # smaller than the checkpointed offset
            a.start()
            L.wait_exact(self.fake, [self.writer])
            st = H.wait_for(a.status, what="status")
            H.check_equal(st["inputs"][0]["truncations"] >= 1, True, "truncation seen")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_follows_a_new_file_that_reuses_the_inode_while_stopped(self):
        self.setup()
        try:
            self.writer.write(300)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
            ino = os.stat(self.writer.path).st_ino
            os.unlink(self.writer.path)
            # the new file gets the freed inode on most file systems; its first bytes differ
            w2 = L.LogWriter(self.writer.path, seed=5000)
            w2.write(800)
            reused = os.stat(w2.path).st_ino == ino
            a.start()
            L.wait_exact(self.fake, [self.writer, w2])
            H.check_equal(a.term(), 0, "exit code")
            print("inode reused: %s" % reused)
        finally:
            self.teardown()

    def _kill_while_writing(self, rotate_every_s, kills=15):
        rnd = random.Random(11)
        stop = threading.Event()

        def write_loop():
            n = 0
            last = time.time()
            while not stop.is_set():
                self.writer.write(200)
                if time.time() - last >= rotate_every_s:
                    last = time.time()
                    n += 1
                    if n % 2:
                        self.writer.rotate_rename()
                    else:
                        self.writer.rotate_copytruncate()
                time.sleep(0.005)
        cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
        a = L.Agent(self.tmp, cfg).start()
        t = threading.Thread(target=write_loop)
        t.start()
        try:
            for _ in range(kills):
                time.sleep(rnd.uniform(0.1, 0.6))
                a.kill9()
                a.start()
        finally:
            stop.set()
            t.join()
        L.wait_exact(self.fake, [self.writer], timeout=40)
        H.check_equal(a.term(), 0, "exit code")
        if self.writer.lines < 20000:
            raise AssertionError("writer wrote only %d lines" % self.writer.lines)

    def it_loses_nothing_when_killed_while_a_writer_keeps_writing_and_rotating(self):
        # a rotation a second, alternating rename and copytruncate, 15 kills
        self.setup()
        try:
            self._kill_while_writing(1.0)
        finally:
            self.teardown()

    # Not collected yet: rotations every few milliseconds (hundreds of shifted siblings).
    # The start-scan race that read rotated files again (counts 2-3x too high) is fixed in
    # agent/src/tail.c; what still fails, in about 4 runs of 5: whole files of 200-600 lines
    # are not counted (an under-count of 0.3-1.5%), and rarely one is counted twice. Not
    # diagnosed. It is not the start scan giving up (it never needed more than 5 of its 50
    # tries in these runs), and every truncation found its copy. In the rarer failures of
    # the same kill loop at 0.1 s rotations, the file lost or counted twice was the
    # copytruncate copy of a truncation a few ms after a restart (tail.h: a copy still being
    # written is not recognized), unconfirmed. Rotating this fast is far from real use;
    # rename to it_... once it passes reliably.
    # Narrowed (issue 10, 2026-12-05): the loss needs no kill at all. The same writer at
    # 15 ms rotations with the agent never killed failed 1 run in 3 (with kills, 4 in 4), and
    # in every failure (13 lost chunks over 7 runs, compared minute by minute with the writer's
    # record of which line indices went into which file) the lines lost were exactly the whole
    # content of one file B: created at the path by a rename rotation, written for ~15 ms
    # (200-600 lines), then copytruncated (B copied to access.log.1, B truncated to 0). So the
    # window is in the running tailer, not in recovery: B seen empty or not at all before its
    # truncation, and its copy then neither taken for B's copy nor read as a sibling "rotated
    # before it was seen". Never a double count in those runs. Not fixed yet.
    # The exact window, from a run with inode-stamped log lines: the scan follows B at the
    # path while it is still empty (fp_len 0); B gets ~400 lines, is copied to .1 (C) and
    # truncated, and is written again, all before the agent's first read of B. That first read
    # takes B's identity from the new bytes at offset 0, so the truncation leaves no trace
    # (no offset, no first bytes lost) and groups_update() does not adopt new siblings
    # (g->rotated is 0: B never moved; unread_active() is 0: B has been read). C is then in
    # the sibling snapshot, and at later scans "was there, unchanged". Adopting new siblings
    # also when the active file's first bytes were first seen after the last listing (and it
    # had no truncation) closes the loss but double-counts ordinary copytruncates in the same
    # runs: it adopted the copy while it was still being made (size 0). tail.c's
    # young_active() now adopts such siblings only once they are non-empty and unchanged for
    # 200 ms (judged again at later scans meanwhile): without kills, 0 failures in 10 runs at
    # 15 ms rotations (before: 1 in 3). With kills it still fails (3 of 3 runs, mostly whole
    # files of the same kind lost, once one counted twice): the restart path has the same
    # invisible-truncation window (a restored or new file at the path whose first bytes are
    # taken after a copytruncate while the agent was down or starting), not closed yet.
    def pending_it_loses_nothing_under_rotations_every_few_milliseconds(self):
        self.setup()
        try:
            self._kill_while_writing(0.015)
        finally:
            self.teardown()

    def it_closes_batches_early_at_minutes_kept_and_counts_exactly(self):
        self.setup()
        try:
            w = L.LogWriter(self.tmp.join("logs", "backfill.log"), spread_s=60)
            w.write(3000)  # 3000 distinct minutes
            cfg = L.agent_config(self.tmp, self.port, [w.path], flush="500ms",
                                 extra_agent="  minutes_kept: 10\n")
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [w], timeout=40)
            st = H.wait_for(lambda: (lambda s: s if s and s["counters"]["early_closes"] > 100
                                     else None)(a.status()), what="early closes")
            if st["counters"]["batches"] < 100:
                raise AssertionError("only %d batches" % st["counters"]["batches"])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_counts_lines_written_while_a_fresh_read_from_end_agent_was_down(self):
        self.setup()
        try:
            old = L.LogWriter(self.writer.path, seed=900000)
            old.write(300)  # before the first start: skipped by read_from: end
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path], read_from="end")
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: (lambda s: s and s["inputs"][0]["files"] and
                                s["inputs"][0]["files"][0]["offset"] > 0)(a.status()),
                       what="file opened at its end")
            time.sleep(1.5)  # a tick checkpoints the positions
            a.kill9()
            self.writer.write(400)  # while down, before any line was ever counted
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_a_file_rotated_by_rename_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)  # after the checkpoint, in the file about to rotate
            self.writer.rotate_rename()
            self.writer.write(200)
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_the_copy_of_a_copytruncate_done_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)  # only in the copy after the truncation
            self.writer.rotate_copytruncate()
            self.writer.write(50)  # smaller than the checkpointed offset
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_every_file_of_two_rotations_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)
            self.writer.rotate_rename()
            self.writer.write(200)
            self.writer.rotate_rename()  # the checkpointed file is now access.log.2
            self.writer.write(100)
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentCrash().run_all()
