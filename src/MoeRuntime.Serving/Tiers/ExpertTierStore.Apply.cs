namespace MoeRuntime.Serving.Tiers;

// Carrying out TierSets.
public sealed partial class ExpertTierStore
{
    /// <summary>
    /// Moves the experts to <paramref name="tierSet"/>'s assignment while calls continue: demoted hot copies stay as
    /// transient copies (evicted least recently used first when room is needed, and at once when the hot budget shrank
    /// under what is held); then experts assigned hot are brought hot (waiting for room
    /// held by leases), experts assigned warm are read into host memory, and a shrunk hot budget waits for leases to
    /// drain. Calls are applied one at a time. A call that fails or is cancelled leaves the new assignment in force and
    /// partly carried out; the next version completes it.
    /// </summary>
    /// <exception cref="StaleTierSetException">The version is not newer than the one applied.</exception>
    /// <exception cref="ArgumentException">Another model, unknown experts, or assignments over the budgets.</exception>
    public async Task ApplyAsync(TierSet tierSet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tierSet);
        await _applying.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (promotions, warmLoads) = Commit(tierSet);
            TierStoreLog.Applying(_logger, tierSet.Describe(), tierSet.Change.ChangedBy, tierSet.Change.Reason, promotions.Count, warmLoads.Count);
            await Task.WhenAll(promotions.Select(e => PromoteAsync(e, cancellationToken))).ConfigureAwait(false);
            foreach (var expert in warmLoads) await WarmAsync(expert, cancellationToken).ConfigureAwait(false);
            await DrainHotAsync(cancellationToken).ConfigureAwait(false);
            TierStoreLog.Applied(_logger, tierSet.Describe());
        }
        finally
        {
            _applying.Release();
        }
    }

    /// <summary>Validates the TierSet, makes it current and drops what it no longer wants; returns what must be fetched.</summary>
    (List<ResidentExpert> Promotions, List<ResidentExpert> WarmLoads) Commit(TierSet tierSet)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (tierSet.Model != Model)
                throw new ArgumentException($"TierSet {tierSet.Describe()} is for another model than this store's {Model}", nameof(tierSet));
            long appliedVersion = _tierSet?.Version ?? 0;
            if (tierSet.Version <= appliedVersion) throw new StaleTierSetException(tierSet.Version, appliedVersion);
            var unknown = tierSet.Assignment.Keys.Where(k => !_experts.ContainsKey(k)).Select(k => k.ToString()).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException(
                    $"TierSet {tierSet.Describe()} assigns {unknown.Count} experts this store does not host: {string.Join(", ", unknown.Take(8))}",
                    nameof(tierSet));
            tierSet.Validate(key => (_experts[key].HotBytes, _experts[key].WarmBytes));

            _tierSet = tierSet;
            _hot.Cap = tierSet.Budgets.HotBytes;
            _warmCap = tierSet.Budgets.WarmBytes;

            var promotions = new List<ResidentExpert>();
            var warmLoads = new List<ResidentExpert>();
            foreach (var expert in _experts.Values)
            {
                Tier next = tierSet.Assignment.GetValueOrDefault(expert.Key, Tier.Cold);
                Reassign(expert, next);
                if (next == Tier.Hot)
                {
                    expert.DropWhenReleased = false;
                    if (expert.Hot is null) promotions.Add(expert);
                    else DropWarm(expert);
                    continue;
                }
                // A demoted expert's hot copy stays as a transient copy: it was in use until now, and a slot holding it
                // earns what any transient copy does. DrainHotAsync evicts it if the hot budget no longer has room.
                if (next == Tier.Cold) DropWarm(expert);
                else if (expert.Warm is null) warmLoads.Add(expert);
            }
            return (promotions, warmLoads);
        }
    }

    /// <summary>Reads an expert assigned warm into host memory, after reserving its warm bytes.</summary>
    async Task WarmAsync(ResidentExpert expert, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (expert.Assigned != Tier.Warm || expert.Warm is not null) return;
            ReserveWarm(expert);
        }
        byte[] raw;
        try
        {
            raw = await Task.Run(() => ReadVerified(expert), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
                if (!_disposed) _warmUsed -= expert.WarmBytes;
            throw;
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            expert.Warm = raw;
        }
        _counters.Warmed(expert.WarmBytes);
    }

    /// <summary>Evicts transient copies until hot holdings fit the current budget, waiting for leases where it must.</summary>
    async Task DrainHotAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task roomFreed;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_hot.EvictToCap(_evictPlanned)) return;
                roomFreed = _hot.RoomFreed();
            }
            await roomFreed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
