using Microsoft.Extensions.Logging;
using MoeRuntime.Model.Layers;
using TorchSharp;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// A rank's store of the experts it hosts for one model. Each expert lives in one tier — hot, warm or cold — as the
/// current TierSet assigns it, and calls may bring a cold or warm expert hot for a while (a transient copy). Hot and
/// warm bytes held never exceed the budgets.
/// </summary>
/// <remarks>
/// One lock guards all holdings; reading, hashing and converting tensors run outside it, after their bytes are
/// reserved. What the lock guards and what may and may not run under it is written once, on
/// <see cref="HotTierBudget{T}"/>, which keeps the hot tier's reservations and evictions. A caller must not wait for one lease while holding another when the hot budget may be full of leased
/// experts: that wait could only end when its own lease is released. The checkpoint stays the caller's to dispose.
/// </remarks>
public sealed partial class ExpertTierStore : IDisposable
{
    readonly ExpertCheckpoint _checkpoint;
    readonly torch.Device _device;
    readonly ILogger<ExpertTierStore> _logger;
    readonly TimeProvider _time;
    readonly TierCounters _counters = new();
    readonly Lock _gate = new();
    readonly Lock _registration = new();
    readonly SemaphoreSlim _applying = new(1, 1);
    readonly Dictionary<ExpertKey, ResidentExpert> _experts = [];
    readonly HotTierBudget<ResidentExpert> _hot;
    readonly Action<ResidentExpert> _evictForced, _evictPlanned;

    // Guarded by _gate, under the rules on HotTierBudget. The warm tier fills up to its cap the same way the hot does.
    long _warmUsed, _warmCap, _warmHighWater, _assignedWarmBytes;
    long _clock;
    TierSet? _tierSet;
    bool _disposed;
    PrefetchLayerCounters? _prefetchLayers;

    public ExpertTierStore(
        ExpertCheckpoint checkpoint, TierBudgets budgets, torch.Device device, ILogger<ExpertTierStore> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(logger);
        _checkpoint = checkpoint;
        _device = device;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _hot = new HotTierBudget<ResidentExpert>(_gate, _experts.Values, budgets.HotBytes);
        _evictForced = expert => DropHot(expert, EvictionKind.Forced);
        _evictPlanned = expert => DropHot(expert, EvictionKind.Planned);
        _warmCap = budgets.WarmBytes;
    }

    public string Model => _checkpoint.Model;

    /// <summary>Identifies this store's per-layer counters; a new value means they started again from zero.</summary>
    public Guid PrefetchEpoch => PrefetchLayers.Epoch;

    /// <summary>Per-layer prefetch accounting, for the prefetch controller; created once, on first use, sized to the model's layers.</summary>
    PrefetchLayerCounters PrefetchLayers =>
        Volatile.Read(ref _prefetchLayers)
        ?? Interlocked.CompareExchange(ref _prefetchLayers, new PrefetchLayerCounters(_checkpoint.Config.LayerCount), null)
        ?? _prefetchLayers!;

    public IReadOnlyCollection<ExpertKey> Experts
    {
        get
        {
            lock (_gate) return [.. _experts.Keys];
        }
    }

    /// <summary>Bytes <paramref name="key"/> takes in the hot tier and in the warm tier, for <see cref="TierSet.Validate"/>.</summary>
    public (long HotBytes, long WarmBytes) SizeOf(ExpertKey key)
    {
        lock (_gate)
        {
            var expert = Find(key);
            return (expert.HotBytes, expert.WarmBytes);
        }
    }

    /// <summary>
    /// Adds an expert: records its byte ranges and its reference SHA-256 digests (the checkpoint manifest's, or those of
    /// its bytes, read once, when there is no manifest) and puts it in <paramref name="initial"/>, which counts as its
    /// assignment until a TierSet names it. Bytes that already differ from the manifest are logged and counted, and the
    /// expert is registered cold holding nothing: each acquisition re-reads it and fails with
    /// <see cref="IntegrityException"/> until the file is right again.
    /// </summary>
    /// <exception cref="InvalidOperationException">Already registered, or the tier has no room for it.</exception>
    public void Register(ExpertKey key, Tier initial = Tier.Cold)
    {
        ExpertTensors tensors = _checkpoint.Locate(key);
        // Registrations run one at a time, so the duplicate check holds while the bytes are read outside _gate.
        lock (_registration)
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_experts.ContainsKey(key)) throw new InvalidOperationException($"expert {key} is already registered");
            }
            byte[] raw = _checkpoint.ReadBytes(tensors);
            ExpertFingerprint reference = _checkpoint.Manifest is { } manifest ? ExpertFingerprint.Of(tensors, manifest) : ExpertFingerprint.Of(tensors, raw);
            if (Mismatch(reference, tensors, raw) is { } corrupt)
            {
                // Wrong already: kept cold, holding nothing, so every fetch re-reads and re-checks it; a fixed file serves again.
                _counters.IntegrityFailed();
                TierStoreLog.CorruptAtRegistration(_logger, key, corrupt.Tensor, corrupt.File);
                initial = Tier.Cold;
            }
            var expert = new ResidentExpert(tensors, reference);
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                CheckAssignmentRoom(expert, initial);
                if (initial == Tier.Hot && !_hot.TryReserve(expert.HotBytes, _evictPlanned))
                    throw new InvalidOperationException(
                        $"expert {key} needs {expert.HotBytes} hot bytes; the hot tier holds {_hot.Used} of {_hot.Cap} bytes in leased or assigned experts");
                if (initial == Tier.Warm) ReserveWarm(expert);
            }
            try
            {
                ExpertFfn? hot = initial == Tier.Hot ? ExpertCheckpoint.ToExpertFfn(tensors, raw, _device) : null;
                lock (_gate)
                {
                    if (_disposed)
                    {
                        hot?.Dispose();
                        throw new ObjectDisposedException(GetType().FullName);
                    }
                    expert.Hot = hot;
                    expert.Warm = initial == Tier.Warm ? raw : null;
                    expert.LastUsed = ++_clock;
                    _experts.Add(key, expert);
                    Reassign(expert, initial);
                }
            }
            catch
            {
                lock (_gate)
                {
                    // Disposal already zeroed the usage.
                    if (!_disposed && initial == Tier.Hot) _hot.Release(expert.HotBytes);
                    else if (!_disposed && initial == Tier.Warm) _warmUsed -= expert.WarmBytes;
                }
                throw;
            }
            if (initial == Tier.Hot) _counters.Promoted(Tier.Cold, expert.HotBytes);
            else if (initial == Tier.Warm) _counters.Warmed(expert.WarmBytes);
            TierStoreLog.Registered(_logger, key, initial, expert.HotBytes, expert.WarmBytes);
        }
    }

    /// <summary>
    /// Leases the expert hot. A miss fetches it from warm or cold (shared with everyone else waiting for it), first
    /// evicting unleased transient copies, least recently used first; when only leased experts could make room it
    /// waits for a lease to be released.
    /// </summary>
    /// <exception cref="KeyNotFoundException">The expert is not registered.</exception>
    /// <exception cref="IntegrityException">Its cold bytes failed their SHA-256.</exception>
    /// <exception cref="InvalidOperationException">Experts assigned hot leave the hot budget no room for this one.</exception>
    public ValueTask<ExpertLease> AcquireAsync(ExpertKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ResidentExpert expert;
        ExpertFetch fetch;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            expert = Find(key);
            expert.LastUsed = ++_clock;
            expert.Uses++;
            if (expert.Hot is { } hot)
            {
                expert.Leases++;
                if (expert.PrefetchedUnused)
                {
                    expert.PrefetchedUnused = false;
                    _counters.PrefetchUsed();
                    PrefetchLayers.PrefetchUsed(key.Layer, expert.HotBytes);
                }
                _counters.Hit(transient: expert.Assigned != Tier.Hot);
                return ValueTask.FromResult(new ExpertLease(this, expert, hot, Tier.Hot, TimeSpan.Zero));
            }
            fetch = expert.Fetch ?? StartFetch(expert, prefetch: false, EvictionKind.Forced);
            fetch.LeaseWaiters++;
        }
        return AwaitFetchAsync(expert, fetch, _time.GetTimestamp(), cancellationToken);
    }

    /// <summary>
    /// Hints that the expert will be needed soon: starts bringing it hot in the background if room can be made by
    /// evicting unleased transient copies. Never waits and never throws; failures are logged and counted.
    /// </summary>
    public void Prefetch(ExpertKey key)
    {
        try
        {
            lock (_gate)
            {
                if (_disposed) return;
                var expert = Find(key);
                if (expert.Hot is not null || expert.Fetch is not null) return;
                if (!_hot.TryReserve(expert.HotBytes, _evictForced))
                {
                    _counters.PrefetchSkipped();
                    return;
                }
                StartFetch(expert, prefetch: true, EvictionKind.Forced).Reserved = true;
                _counters.PrefetchIssued();
                PrefetchLayers.PrefetchIssued(key.Layer);
            }
        }
        catch (Exception e)
        {
            _counters.PrefetchFailed();
            PrefetchLayers.PrefetchFailed(key.Layer);
            TierStoreLog.PrefetchFailed(_logger, key, e);
        }
    }

    /// <summary>
    /// Drops the expert's hot and warm copies, unless a lease is out, so that its next acquisition reads it from disk
    /// again and checks it against its reference digests: how a copy that produced NaN or infinity is given a fresh
    /// read. An expert assigned warm stays resident cold until a TierSet loads it again. Returns whether it dropped them.
    /// </summary>
    public bool Discard(ExpertKey key)
    {
        lock (_gate)
        {
            if (_disposed) return false;
            var expert = Find(key);
            if (expert.Leases > 0 || expert.Fetch is not null) return false;
            if (expert.Hot is not null) DropHot(expert, EvictionKind.Planned);
            DropWarm(expert);
            return true;
        }
    }

    public TierStoreSnapshot Snapshot()
    {
        lock (_gate)
        {
            var experts = _experts.Values
                .OrderBy(e => e.Key.Layer).ThenBy(e => e.Key.Expert)
                .Select(e => new ExpertResidency(
                    e.Key,
                    e.Assigned,
                    e.Hot is not null && e.Assigned == Tier.Hot ? Tier.Hot : e.Warm is not null ? Tier.Warm : Tier.Cold,
                    e.IsTransientHot,
                    e.Hot is not null || e.Fetch is { Reserved: true } ? e.HotBytes : 0,
                    e.Warm is not null ? e.WarmBytes : 0,
                    e.Leases,
                    e.Fetch is not null,
                    e.Uses))
                .ToList();
            return new TierStoreSnapshot(
                Model,
                _tierSet,
                experts,
                new TierUsage(_hot.Used, _hot.Cap, _hot.HighWater),
                new TierUsage(_warmUsed, _warmCap, _warmHighWater),
                _counters.Read(_checkpoint.Tensors.BytesRead));
        }
    }

    /// <summary>Prefetch effectiveness per layer since the store was created (cumulative), indexed by layer.</summary>
    public PrefetchLayerCounts[] PrefetchByLayer() => PrefetchLayers.Read();

    /// <summary>Frees every tensor the store holds; leases still out must not be used afterwards.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var expert in _experts.Values)
            {
                expert.Hot?.Dispose();
                expert.Hot = null;
                expert.Warm = null;
            }
            _warmUsed = 0;
            _hot.Clear();
        }
    }

    internal void Release(ResidentExpert expert)
    {
        lock (_gate)
        {
            if (_disposed || --expert.Leases > 0) return;
            if (expert.DropWhenReleased && expert.IsTransientHot) DropHot(expert, EvictionKind.Planned);
            else if (expert.IsTransientHot) _hot.SignalRoom();
        }
    }

    /// <summary>Keeps the experts assigned to a tier within its budget when one more joins them. Caller holds _gate.</summary>
    void CheckAssignmentRoom(ResidentExpert expert, Tier tier)
    {
        if (tier == Tier.Hot && !_hot.AssignmentFits(expert.HotBytes))
            throw new InvalidOperationException(
                $"expert {expert.Key} needs {expert.HotBytes} hot bytes; experts assigned hot already take {_hot.Assigned} of the {_hot.Cap}-byte hot budget");
        if (tier == Tier.Warm && _assignedWarmBytes + expert.WarmBytes > _warmCap)
            throw new InvalidOperationException(
                $"expert {expert.Key} needs {expert.WarmBytes} warm bytes; experts assigned warm already take {_assignedWarmBytes} of the {_warmCap}-byte warm budget");
    }

    static IntegrityException? Mismatch(ExpertFingerprint reference, ExpertTensors tensors, byte[] raw)
    {
        try
        {
            reference.Verify(tensors, raw);
            return null;
        }
        catch (IntegrityException e)
        {
            return e;
        }
    }

    ResidentExpert Find(ExpertKey key) =>
        _experts.TryGetValue(key, out var expert) ? expert : throw new KeyNotFoundException($"expert {key} is not registered with this store");

    /// <summary>Records a change of assignment in the assigned-bytes totals. Caller holds _gate.</summary>
    void Reassign(ResidentExpert expert, Tier to)
    {
        if (expert.Assigned == Tier.Hot) _hot.AddAssigned(-expert.HotBytes);
        else if (expert.Assigned == Tier.Warm) _assignedWarmBytes -= expert.WarmBytes;
        if (to == Tier.Hot) _hot.AddAssigned(expert.HotBytes);
        else if (to == Tier.Warm) _assignedWarmBytes += expert.WarmBytes;
        expert.Assigned = to;
    }
}
