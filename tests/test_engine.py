"""simpy engine: FIFO back-pressure, broadcast-bus stalls, barriers, DRAM timing, SRAM counts, the tile pipeline.

Every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from accelsim.engine import DRAM, FIFO, Barrier, BroadcastBus, SRAMBuffer, Stats, Tile, run_tile_pipeline

# -- FIFO ---------------------------------------------------------------------------------------


def test_fifo_back_pressure_blocks_the_producer():
    # depth 2; the producer puts 5 items back to back; the consumer takes one every 3 cycles (t = 3, 6, 9, 12, 15).
    # items 0, 1 fit at t=0; item 2 waits for the first get (t=3), item 3 for the second (t=6), item 4 (t=9).
    env = simpy.Environment()
    fifo = FIFO(env, depth=2)
    put_done, got = [], []

    def producer():
        for i in range(5):
            yield fifo.put(i)
            put_done.append(env.now)

    def consumer():
        for _ in range(5):
            yield env.timeout(3)
            item = yield fifo.get()
            got.append((env.now, item))

    env.process(producer())
    env.process(consumer())
    env.run()
    assert put_done == [0, 0, 3, 6, 9]
    assert got == [(3, 0), (6, 1), (9, 2), (12, 3), (15, 4)]
    assert fifo.max_occupancy == 2          # never more than the depth
    assert len(fifo) == 0 and not fifo.full


def test_fifo_occupancy_and_full_flag():
    env = simpy.Environment()
    fifo = FIFO(env, depth=3)
    fifo.put("a")
    assert (len(fifo), fifo.max_occupancy, fifo.full) == (1, 1, False)
    fifo.put("b")
    fifo.put("c")
    assert (len(fifo), fifo.max_occupancy, fifo.full) == (3, 3, True)
    blocked = fifo.put("d")
    assert not blocked.triggered and fifo.max_occupancy == 3
    with pytest.raises(ValueError, match="depth"):
        FIFO(env, depth=0)


# -- broadcast bus --------------------------------------------------------------------------------


def test_broadcast_bus_stalls_on_the_one_full_queue():
    # Two consumer queues: A (depth 4) drained at once, B (depth 1) drained one item every 5 cycles (t = 5, 10, 15).
    # The producer broadcasts items 0, 1, 2 back to back; a broadcast goes out only when every queue has room:
    #   item 0 at t=0: both queues have room                        -> no stall, out at t=0
    #   item 1 at t=0: B still holds item 0 until B's get at t=5    -> stall 5, out at t=5
    #   item 2 at t=5: B holds item 1 until t=10                    -> stall 5, out at t=10
    # total stall.broadcast_full = 10; A never fills, yet it receives items 1 and 2 only when B can take them too.
    env = simpy.Environment()
    stats = Stats()
    qa, qb = FIFO(env, 4, "a"), FIFO(env, 1, "b")
    bus = BroadcastBus(env, [qa, qb], stats)
    sent_at, a_got, b_got = [], [], []

    def producer():
        for i in range(3):
            yield from bus.send(i)
            sent_at.append(env.now)

    def drain_a():
        while True:
            item = yield qa.get()
            a_got.append((env.now, item))

    def drain_b():
        for _ in range(3):
            yield env.timeout(5)
            item = yield qb.get()
            b_got.append((env.now, item))

    env.process(producer())
    env.process(drain_a())
    env.process(drain_b())
    env.run(until=100)
    assert sent_at == [0, 5, 10]
    assert stats.stalls["broadcast_full"] == 10
    assert a_got == [(0, 0), (5, 1), (10, 2)]
    assert b_got == [(5, 0), (10, 1), (15, 2)]
    assert qb.max_occupancy == 1


def test_broadcast_bus_waits_until_every_queue_has_room():
    # A and B both depth 1; A's consumer takes an item every 3 cycles (t = 3, 6, 9), B's every 5 (t = 5, 10, 15).
    #   item 0 out at t=0 (both empty)
    #   item 1: A frees at 3, B at 5                  -> out at 5 (stall 5)
    #   item 2: A (holding item 1) frees at 6, B at 10 -> out at 10 (stall 5)
    # A gets item 0 at 3, item 1 at 6, and waits from 9 for item 2, which arrives at 10.
    env = simpy.Environment()
    stats = Stats()
    qa, qb = FIFO(env, 1, "a"), FIFO(env, 1, "b")
    bus = BroadcastBus(env, [qa, qb], stats, cause="bus")
    sent_at, got = [], {"a": [], "b": []}

    def producer():
        for i in range(3):
            yield from bus.send(i)
            sent_at.append(env.now)

    def consumer(q, period):
        for _ in range(3):
            yield env.timeout(period)
            item = yield q.get()
            got[q.name].append((env.now, item))

    env.process(producer())
    env.process(consumer(qa, 3))
    env.process(consumer(qb, 5))
    env.run()
    assert sent_at == [0, 5, 10]
    assert dict(stats.stalls) == {"bus": 10}
    assert got == {"a": [(3, 0), (6, 1), (10, 2)], "b": [(5, 0), (10, 1), (15, 2)]}


# -- barrier ---------------------------------------------------------------------------------------


def test_barrier_waiting_time_and_reuse():
    # 3 PEs arrive at t = 2, 5, 9: all leave at 9, having waited 7 + 4 + 0 = 11 cycles.
    # Second round, after 1, 3 and 3 more cycles: arrivals 10, 12, 12 -> release at 12, waits 2 + 0 + 0 = 2.
    env = simpy.Environment()
    stats = Stats(num_pes=3)
    barrier = Barrier(env, 3, stats, cause="imbalance")
    left: dict[int, list[int]] = {0: [], 1: [], 2: []}

    def pe(i, work1, work2):
        yield env.timeout(work1)
        yield from barrier.wait()
        left[i].append(env.now)
        yield env.timeout(work2)
        yield from barrier.wait()
        left[i].append(env.now)

    for i, (w1, w2) in enumerate([(2, 1), (5, 3), (9, 3)]):
        env.process(pe(i, w1, w2))
    env.run()
    assert left == {0: [9, 12], 1: [9, 12], 2: [9, 12]}
    assert stats.stalls["imbalance"] == 11 + 2


# -- DRAM and SRAM ------------------------------------------------------------------------------


def test_dram_transfer_cycles_latency_plus_whole_bursts():
    env = simpy.Environment()
    dram = DRAM(env, Stats(), bytes_per_cycle=8, latency_cycles=20, burst_bytes=64)
    assert dram.transfer_cycles(640) == 20 + 640 // 8               # 10 whole bursts: 100
    assert dram.transfer_cycles(100) == 20 + 128 // 8               # rounds up to 2 bursts: 36
    assert dram.transfer_cycles(1) == 20 + 8                        # one burst: 28
    assert dram.transfer_cycles(0) == 0
    slow = DRAM(env, Stats(), bytes_per_cycle=3, burst_bytes=32)
    assert slow.transfer_cycles(640) == 214                         # 640 B = 20 bursts; ceil(640 / 3)
    with pytest.raises(ValueError, match="bandwidth"):
        DRAM(env, Stats(), bytes_per_cycle=0)


def test_dram_serialises_concurrent_transfers_and_counts():
    # two 640 B reads requested at t=0 on an 8 B/cycle channel with latency 10: 0-90 and 90-180;
    # a 64 B write requested at t=0 queues behind them: 180-198.
    env = simpy.Environment()
    stats = Stats()
    dram = DRAM(env, stats, bytes_per_cycle=8, latency_cycles=10, burst_bytes=64)
    done = {}

    def job(name, nbytes, write=False):
        yield from dram.transfer(nbytes, write=write)
        done[name] = env.now

    env.process(job("r1", 640))
    env.process(job("r2", 640))
    env.process(job("w", 64, write=True))
    env.run()
    assert done == {"r1": 90, "r2": 180, "w": 198}
    assert stats.actions[("dram", "read")] == 2 * 640 * 8           # bits
    assert stats.actions[("dram", "write")] == 64 * 8
    assert stats.bytes_moved["dram"] == 640 + 640 + 64


def test_sram_buffer_counts_words_and_halves_for_double_buffering():
    env = simpy.Environment()
    stats = Stats()
    buf = SRAMBuffer(env, stats, name="glb", capacity_bytes=4096, width_bits=64)
    assert buf.tile_bytes == 2048 and buf.fits(2048) and not buf.fits(2049)
    buf.read(100)            # 800 bits / 64 = 12.5 -> 13 words
    buf.write(64)            # 8 words
    assert stats.actions[("glb", "read")] == 13
    assert stats.actions[("glb", "write")] == 8
    assert stats.bytes_moved["glb"] == 164
    single = SRAMBuffer(env, stats, name="s", capacity_bytes=4096, double_buffered=False)
    assert single.tile_bytes == 4096 and single.slots.level == 1


def test_stats_collector():
    stats = Stats(num_pes=4)
    stats.count("pe", "mac", 3)
    stats.count("pe", "mac")
    stats.count("pe", "idle", 0)
    stats.stall("dram", 0)
    stats.stall("dram", 7)
    stats.busy(slice(0, 2), 5)
    stats.busy(3, 2)
    stats.busy(np.arange(4), np.array([1, 1, 1, 1]))
    assert dict(stats.actions) == {("pe", "mac"): 4}
    assert dict(stats.stalls) == {"dram": 7}
    assert stats.pe_busy.tolist() == [6, 6, 1, 3]


# -- tile pipeline ---------------------------------------------------------------------------


def run(tiles, **kw):
    stats = Stats()
    return run_tile_pipeline(tiles, stats, dram_bytes_per_cycle=8, **kw), stats


def test_pipeline_three_tiles_with_stores():
    # load 640 B at 8 B/cycle = 80 cycles, compute 100, store 64 B = 8 cycles; double buffered.
    #   loads:    tile0 0-80, tile1 80-160 (second buffer half), tile2 waits for a free half:
    #             compute0 frees one at 180; the store of tile0 issued at 180 takes the channel 180-188, load2 188-268
    #   compute:  tile0 80-180 (stalled 80 waiting for load0), tile1 180-280, tile2 280-380 (load2 done at 268)
    #   stores:   tile1 280-288, tile2 380-388: the drain after the last compute is 8 cycles
    # total 388 = 80 + 3 x 100 + 8; stall.dram = 80, stall.dram_drain = 8
    cycles, stats = run([Tile(640, 100, 64)] * 3)
    assert cycles == 388
    assert dict(stats.stalls) == {"dram": 80, "dram_drain": 8}
    assert stats.actions[("dram", "read")] == 3 * 640 * 8
    assert stats.actions[("dram", "write")] == 3 * 64 * 8
    assert stats.bytes_moved["dram"] == 3 * 704


def test_pipeline_compute_bound_overlaps_loads():
    # no stores: only the first load is exposed: 80 + 3 x 100 = 380
    cycles, stats = run([Tile(640, 100)] * 3)
    assert cycles == 380 and dict(stats.stalls) == {"dram": 80}


def test_pipeline_memory_bound():
    # compute 10 per tile: load0 0-80, load1 80-160, load2 160-240 (a half is free since compute0 ended at 90);
    # compute0 80-90 (stall 80), compute1 160-170 (stall 70), compute2 240-250 (stall 70) -> 250, stalls 220
    cycles, stats = run([Tile(640, 10)] * 3)
    assert cycles == 250 and stats.stalls["dram"] == 220


def test_pipeline_single_buffered_serialises():
    # one buffer: load, compute, load, compute ... = 3 x (80 + 100) = 540, each load exposed: stall 240
    cycles, stats = run([Tile(640, 100)] * 3, double_buffered=False)
    assert cycles == 540 and dict(stats.stalls) == {"dram": 240}
    # with 64 B stores: after each compute the store takes the channel first (8 cycles), then the next load:
    #   load0 0-80, c0 80-180, st0 180-188, load1 188-268, c1 268-368, st1 368-376, load2 376-456, c2 456-556,
    #   st2 556-564 -> 564; stall.dram = 80 + 88 + 88 = 256, drain 8
    cycles, stats = run([Tile(640, 100, 64)] * 3, double_buffered=False)
    assert cycles == 564 and dict(stats.stalls) == {"dram": 256, "dram_drain": 8}


def test_pipeline_with_latency_and_bursts():
    # latency 10: load = 10 + 80 = 90, store = 10 + 8 = 18; 100 B loads round up to 2 bursts of 64 B
    #   load0 0-90, load1 90-180, c0 90-190 (stall 90), st0 190-208, load2 208-298, c1 190-290,
    #   st1 298-316 (channel busy until 298), c2 298-398 (stall 8), st2 398-416 -> 416, stall 98, drain 18
    cycles, stats = run([Tile(640, 100, 64)] * 3, dram_latency_cycles=10)
    assert cycles == 416 and dict(stats.stalls) == {"dram": 98, "dram_drain": 18}
    # 100 B -> 128 B of bursts = 16 cycles; compute 5: 16 + 16 + 16 + 5 = 53 (compute hides under the loads)
    cycles, stats = run([Tile(100, 5)] * 3)
    assert cycles == 53 and stats.stalls["dram"] == 16 + 11 + 11


def test_pipeline_edge_cases():
    assert run([])[0] == 0
    cycles, stats = run([Tile(0, 7), Tile(0, 5)])
    assert cycles == 12 and not stats.stalls and not stats.actions


# -- from Stats to result rows ----------------------------------------------------------------


def _layer_result(name, busy, stalls, actions, cycles=100, issued=300):
    from accelsim.results import LayerResult

    return LayerResult(layer=name, kind="matmul", cycles=cycles, compute_cycles=max(cycles - sum(stalls.values()), 0),
                       pe_busy_cycles=np.asarray(busy), action_counts=actions, macs_dense=400, macs_effectual=120,
                       macs_issued=issued, multipliers=4, stall_cycles=stalls, bytes_moved={"dram": 256, "glb": 64})


def test_layer_result_metrics_and_rows():
    from accelsim.results import PricedLayer, RunResult

    a = _layer_result("a", [4, 2, 2, 0], {"dram": 10}, {("pe", "mac"): 300})
    b = _layer_result("b", [0, 0], {"barrier": 5}, {}, cycles=0, issued=0)
    assert a.load_balance == 0.5              # mean 2 / max 4
    assert a.utilization == 0.75              # 300 issued / (100 cycles x 4 multipliers)
    assert b.load_balance == 1.0 and b.utilization == 0.0     # idle PEs, zero cycles: no division by zero
    run = RunResult([PricedLayer(a, "t", "chip", "cfg", 1e9, {"pe": 150.0, "dram": 50.0}, True, seed=3),
                     PricedLayer(b, "t", "chip", "cfg", 1e9, {"pe": 1.0}, None, seed=3)])
    df = run.to_frame()
    assert df["layer"].tolist() == ["a", "b"]
    assert df["energy_pj"].tolist() == [200.0, 1.0]
    assert df["energy_pj.dram"].tolist() == [50.0, 0.0]          # missing component -> 0, not NaN
    assert df["stall.dram"].tolist() == [10.0, 0.0] and df["stall.barrier"].tolist() == [0.0, 5.0]
    assert df["time_s"].tolist() == [100e-9, 0.0]
    assert df["dram_bytes"].tolist() == [256.0, 256.0]
    assert df["compute_cycles"].tolist() == [90, 0]
    assert df["functional_ok"].tolist() == [True, None] and df["seed"].tolist() == [3, 3]
    assert run.totals() == {"cycles": 100, "time_s": 100e-9, "energy_pj": 201.0, "macs_effectual": 240}


def test_sram_ports_and_banks_time_bursts():
    # 64-bit words, 2 banks, 1 port: a 64-byte burst is 8 words -> ceil(8 / 2) = 4 cycles; a second
    # burst issued at t=0 waits for the port, so it ends at 8. With 2 ports both end at 4.
    import simpy

    from accelsim.engine import SRAMBuffer, Stats

    for ports, ends in ((1, [4, 8]), (2, [4, 4])):
        env = simpy.Environment()
        stats = Stats()
        sram = SRAMBuffer(env, stats, name="iaram", capacity_bytes=1024, width_bits=64, banks=2, ports=ports)
        done = []

        def burst(sram=sram, env=env, done=done):
            yield from sram.access(64)
            done.append(env.now)

        env.process(burst())
        env.process(burst())
        env.run()
        assert done == ends
        assert stats.actions[("iaram", "read")] == 16
