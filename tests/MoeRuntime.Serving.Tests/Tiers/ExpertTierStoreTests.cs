using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Serving.Tests.Tiers.DefaultCheckpoint;
using static MoeRuntime.Serving.Tests.Tiers.StoreTesting;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>Acquisitions, shared fetches, eviction order, waiting for leases, integrity and counters.</summary>
[Collection(DefaultCheckpointCollection.Name)]
public class ExpertTierStoreTests(DefaultCheckpoint defaultCheckpoint)
{
    static readonly ExpertKey A = Key(0, 0), B = Key(0, 1), C = Key(0, 2), D = Key(0, 3);
    static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task ConcurrentAcquisitionsOfOneMissingExpertShareOneRead()
    {
        using var checkpoint = defaultCheckpoint.Open();
        // Room for every acquisition's own copy, so that fetches that failed to share would show as extra reads.
        using var store = Store(checkpoint, hotExperts: 16, warmExperts: 0);
        store.Register(A);
        long before = checkpoint.Tensors.BytesRead;

        var leases = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => store.AcquireAsync(A, None).AsTask()));

        Assert.Equal(store.SizeOf(A).WarmBytes, checkpoint.Tensors.BytesRead - before);
        Assert.All(leases, lease => Assert.Same(leases[0].Expert, lease.Expert));
        var counters = store.Snapshot().Counters;
        Assert.Equal(16, counters.Hits + counters.MissesFromCold);
        Assert.Equal(store.SizeOf(A).HotBytes, counters.BytesColdToHot);
        Assert.Equal(16, store.Snapshot().Expert(A).Leases);
        foreach (var lease in leases) lease.Dispose();
        Assert.Equal(0, store.Snapshot().Expert(A).Leases);
    }

    [Fact]
    public async Task EveryAcquisitionCountsAsAUseOfItsExpert()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 0);
        foreach (var key in new[] { A, B }) store.Register(key);

        // Misses (cold, then evicted) and hits alike: uses are what controllers rank demand by.
        foreach (var key in new[] { A, A, B, A, A })
            (await store.AcquireAsync(key, None)).Dispose();

        var snapshot = store.Snapshot();
        Assert.Equal(4, snapshot.Expert(A).Uses);
        Assert.Equal(1, snapshot.Expert(B).Uses);
        Assert.Equal(5, snapshot.Counters.Hits + snapshot.Counters.MissesFromCold + snapshot.Counters.MissesFromWarm);
    }

    [Fact]
    public async Task AFetchEvictsTheLeastRecentlyUsedTransientCopyFirst()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 0);
        foreach (var key in new[] { A, B, C }) store.Register(key);

        (await store.AcquireAsync(A, None)).Dispose();
        (await store.AcquireAsync(B, None)).Dispose();
        using (var again = await store.AcquireAsync(A, None)) Assert.Equal(Tier.Hot, again.FoundIn);
        (await store.AcquireAsync(C, None)).Dispose();

        var snapshot = store.Snapshot();
        Assert.True(snapshot.Expert(A).HotBytes > 0, "A was used after B, so B goes first");
        Assert.Equal(0, snapshot.Expert(B).HotBytes);
        Assert.True(snapshot.Expert(C).HotBytes > 0);
        Assert.Equal(1, snapshot.Counters.ForcedEvictions);
        Assert.Equal(0, snapshot.Counters.PlannedEvictions);
    }

    [Fact]
    public async Task ExpertsAssignedHotAreNeverEvicted()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 0);
        store.Register(A, Tier.Hot);
        foreach (var key in new[] { B, C, D }) store.Register(key);

        // A is the least recently used expert throughout, so only its assignment keeps it hot.
        foreach (var key in new[] { B, C, D, B })
        {
            using var lease = await store.AcquireAsync(key, None);
            Assert.NotEqual(Tier.Hot, lease.FoundIn);
        }

        using (var pinned = await store.AcquireAsync(A, None)) Assert.Equal(Tier.Hot, pinned.FoundIn);
        var snapshot = store.Snapshot();
        Assert.Equal(Tier.Hot, snapshot.Expert(A).Resident);
        Assert.Equal(3, snapshot.Counters.ForcedEvictions);
        Assert.Equal(4, snapshot.Counters.MissesFromCold);
    }

    [Fact]
    public async Task AFetchWaitsForALeaseWhenOnlyLeasedExpertsCouldMakeRoom()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 0);
        store.Register(A);
        store.Register(B);
        var holder = await store.AcquireAsync(A, None);

        var waiting = store.AcquireAsync(B, None).AsTask();
        await Eventually.UntilAsync(() => store.Snapshot().Counters.RoomWaits > 0, "B's fetch waits for room", Patience);

        Assert.False(waiting.IsCompleted);
        var snapshot = store.Snapshot();
        Assert.Equal(snapshot.Hot.BudgetBytes, snapshot.Hot.UsedBytes);
        Assert.True(snapshot.Expert(A).HotBytes > 0, "a leased expert is not evicted");
        using (TorchSharp.torch.Tensor tokens = Tokens(256))
            Assert.Equal(ReferenceOutputs(checkpoint, A, tokens), Outputs(holder.Expert, tokens));

        holder.Dispose();
        using var lease = await waiting;
        Assert.Equal(Tier.Cold, lease.FoundIn);
        snapshot = store.Snapshot();
        Assert.Equal(0, snapshot.Expert(A).HotBytes);
        Assert.Equal(1, snapshot.Counters.ForcedEvictions);
        Assert.True(snapshot.Hot.HighWaterBytes <= snapshot.Hot.BudgetBytes);
    }

    [Fact]
    public async Task AnAcquisitionWaitingForRoomCanBeCancelled()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 0);
        store.Register(A);
        store.Register(B);
        var holder = await store.AcquireAsync(A, None);
        using var cancellation = new CancellationTokenSource();

        var waiting = store.AcquireAsync(B, cancellation.Token).AsTask();
        await Eventually.UntilAsync(() => store.Snapshot().Counters.RoomWaits > 0, "B's fetch waits for room", Patience);
        cancellation.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await Eventually.UntilAsync(() => !store.Snapshot().Expert(B).Fetching, "the abandoned fetch ends", Patience);

        holder.Dispose();
        var snapshot = store.Snapshot();
        Assert.Equal(0, snapshot.Expert(B).HotBytes);
        Assert.Equal(0, snapshot.Expert(A).Leases);
        Assert.Equal(0, snapshot.Counters.ForcedEvictions);
        using var lease = await store.AcquireAsync(B, None);
        Assert.Equal(Tier.Cold, lease.FoundIn);
    }

    [Fact]
    public async Task AcquiringFailsRatherThanWaitsWhenExpertsAssignedHotLeaveNoRoom()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 0);
        store.Register(A, Tier.Hot);
        store.Register(B);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AcquireAsync(B, None).AsTask());
        Assert.Contains(B.ToString(), error.Message);
        Assert.Equal(store.SizeOf(A).HotBytes, store.Snapshot().Hot.UsedBytes);
    }

    [Fact]
    public async Task CorruptColdBytesThrowAnIntegrityExceptionAndAreNeverServed()
    {
        using var directory = new TempDirectory();
        TinyExpertCheckpoint.Write(directory.Path, ScalarType.BFloat16, seed: 5);
        using var checkpoint = ExpertCheckpoint.Open(directory.Path, "tiny");
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 1);
        ExpertKey corrupt = new("tiny", 1, 1), warm = new("tiny", 1, 0);
        store.Register(corrupt);
        store.Register(warm, Tier.Warm);
        var w2 = checkpoint.Locate(corrupt).W2;
        FlipByte(w2.File, w2.Offset + 5);

        for (int attempt = 1; attempt <= 2; attempt++)
        {
            var error = await Assert.ThrowsAsync<IntegrityException>(() => store.AcquireAsync(corrupt, None).AsTask());
            Assert.Equal(corrupt, error.Expert);
            Assert.Equal(w2.File, error.File);
            Assert.Contains("tiny/1/1", error.Message);
            Assert.Contains(w2.File, error.Message);
            Assert.Equal(attempt, store.Snapshot().Counters.IntegrityFailures);
        }
        store.Prefetch(corrupt);
        await Eventually.UntilAsync(() => store.Snapshot().Counters.PrefetchFailures == 1, "the prefetch fails", Patience);

        var snapshot = store.Snapshot();
        Assert.Equal(3, snapshot.Counters.IntegrityFailures);
        Assert.Equal(0, snapshot.Expert(corrupt).HotBytes);
        Assert.Equal(0, snapshot.Hot.UsedBytes);
        Assert.Equal(0, snapshot.Counters.MissesFromCold);
        // Warm bytes were taken before the corruption and stay right.
        using Tensor tokens = Tokens(checkpoint.Config.HiddenSize);
        using var lease = await store.AcquireAsync(warm, None);
        Assert.Equal(ReferenceOutputs(checkpoint, warm, tokens), Outputs(lease.Expert, tokens));
    }

    [Fact]
    public async Task CountersRecordHitsMissesFetchTimesBytesAndPrefetches()
    {
        using var checkpoint = defaultCheckpoint.Open();
        var step = TimeSpan.FromMilliseconds(3);
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 1, new SteppingTime(step));
        store.Register(A, Tier.Warm);
        foreach (var key in new[] { B, C, D }) store.Register(key);
        var (hot, warm) = store.SizeOf(A);

        async Task<Tier> Use(ExpertKey key)
        {
            using var lease = await store.AcquireAsync(key, None);
            Assert.Equal(lease.FoundIn == Tier.Hot ? TimeSpan.Zero : step, lease.FetchTime);
            return lease.FoundIn;
        }
        async Task PrefetchAndWait(ExpertKey key)
        {
            store.Prefetch(key);
            await Eventually.UntilAsync(() => store.Snapshot().Expert(key) is { HotBytes: > 0, Fetching: false }, $"{key} is prefetched", Patience);
        }

        Assert.Equal(Tier.Warm, await Use(A));
        Assert.Equal(Tier.Hot, await Use(A));
        Assert.Equal(Tier.Cold, await Use(B));
        await PrefetchAndWait(C);                   // evicts A
        Assert.Equal(Tier.Hot, await Use(C));       // prefetch used
        await PrefetchAndWait(D);                   // evicts B
        Assert.Equal(Tier.Hot, await Use(C));
        Assert.Equal(Tier.Cold, await Use(B));      // evicts D unused: prefetch wasted

        var counters = store.Snapshot().Counters;
        Assert.Equal(3, counters.Hits);
        Assert.Equal(1, counters.MissesFromWarm);
        Assert.Equal(2, counters.MissesFromCold);
        Assert.Equal(step.TotalSeconds, counters.FetchSecondsFromWarm, 9);
        Assert.Equal(2 * step.TotalSeconds, counters.FetchSecondsFromCold, 9);
        Assert.Equal(3, counters.ForcedEvictions);
        Assert.Equal(hot, counters.BytesWarmToHot);
        Assert.Equal(4 * hot, counters.BytesColdToHot);
        Assert.Equal(warm, counters.BytesColdToWarm);
        Assert.Equal(3 * hot, counters.BytesHotDropped);
        Assert.Equal((2, 1, 1), (counters.PrefetchIssued, counters.PrefetchUsed, counters.PrefetchWasted));
        Assert.Equal(0, counters.IntegrityFailures);
        Assert.Equal(8 * warm, counters.CheckpointBytesRead);
    }

    [Fact]
    public void RegisterRejectsDuplicatesAndExpertsOverTheBudgets()
    {
        using var checkpoint = defaultCheckpoint.Open();
        using var store = Store(checkpoint, hotExperts: 1, warmExperts: 1);
        store.Register(A, Tier.Hot);
        store.Register(B, Tier.Warm);

        Assert.Contains("already registered", Assert.Throws<InvalidOperationException>(() => store.Register(A)).Message);
        Assert.Contains("hot budget", Assert.Throws<InvalidOperationException>(() => store.Register(C, Tier.Hot)).Message);
        Assert.Contains("warm budget", Assert.Throws<InvalidOperationException>(() => store.Register(C, Tier.Warm)).Message);
        store.Register(C);
        Assert.Equal([A, B, C], store.Experts.OrderBy(k => k.Expert).ToArray());
        var snapshot = store.Snapshot();
        Assert.Equal([Tier.Hot, Tier.Warm, Tier.Cold], snapshot.Experts.Select(e => e.Resident).ToArray());
        Assert.Equal(snapshot.Hot.BudgetBytes, snapshot.Hot.UsedBytes);
        Assert.Equal(snapshot.Warm.BudgetBytes, snapshot.Warm.UsedBytes);
    }

    static void FlipByte(string file, long offset)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Span<byte> one = stackalloc byte[1];
        RandomAccess.Read(handle, one, offset);
        one[0] ^= 0x5A;
        RandomAccess.Write(handle, one, offset);
    }
}
