using MoeRuntime.Model.Layers;

namespace MoeRuntime.Serving.Tiers;

// Bringing experts hot: shared fetches, waiting for hot room, installing and dropping hot copies.
public sealed partial class ExpertTierStore
{
    /// <summary>Starts the one fetch everyone who needs the expert hot will share. Caller holds _gate.</summary>
    ExpertFetch StartFetch(ResidentExpert expert, bool prefetch, EvictionKind evictions)
    {
        var fetch = new ExpertFetch(prefetch, evictions);
        expert.Fetch = fetch;
        _ = Task.Run(() => RunFetchAsync(expert, fetch));
        return fetch;
    }

    async ValueTask<ExpertLease> AwaitFetchAsync(ResidentExpert expert, ExpertFetch fetch, long started, CancellationToken cancellationToken)
    {
        ExpertFfn hot;
        try
        {
            hot = await fetch.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            bool leased;
            lock (_gate)
            {
                leased = fetch.Installed;
                if (!leased)
                {
                    fetch.LeaseWaiters--;
                    AbandonIfUnwanted(expert, fetch);
                }
            }
            // Installation hands every waiter its lease; one that stopped waiting gives it back.
            if (leased) Release(expert);
            throw;
        }
        TimeSpan waited = _time.GetElapsedTime(started);
        _counters.Miss(fetch.Source, waited);
        PrefetchLayers.Stalled(expert.Key.Layer, waited);
        return new ExpertLease(this, expert, hot, fetch.Source, waited);
    }

    /// <summary>Waits until <paramref name="expert"/> is hot, without a lease: how a TierSet promotes.</summary>
    async Task PromoteAsync(ResidentExpert expert, CancellationToken cancellationToken)
    {
        ExpertFetch fetch;
        lock (_gate)
        {
            if (expert.Hot is not null) return;
            fetch = expert.Fetch ?? StartFetch(expert, prefetch: false, EvictionKind.Planned);
            fetch.PromotionWaiters++;
        }
        try
        {
            await fetch.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (_gate)
            {
                fetch.PromotionWaiters--;
                AbandonIfUnwanted(expert, fetch);
            }
            throw;
        }
    }

    /// <summary>A fetch nobody waits for any more stops looking for room. Caller holds _gate.</summary>
    void AbandonIfUnwanted(ResidentExpert expert, ExpertFetch fetch)
    {
        if (fetch.IsWanted || fetch.Reserved || fetch.Done.Task.IsCompleted) return;
        fetch.Abandoned = true;
        // Detached now, so a later acquisition starts a fresh fetch instead of joining one that is giving up.
        if (expert.Fetch == fetch) expert.Fetch = null;
        _hot.SignalRoom();
    }

    async Task RunFetchAsync(ResidentExpert expert, ExpertFetch fetch)
    {
        try
        {
            await ReserveHotAsync(expert, fetch).ConfigureAwait(false);
            byte[]? warm;
            lock (_gate) warm = expert.Warm;
            fetch.Source = warm is null ? Tier.Cold : Tier.Warm;
            // A warm array is never written, so converting it outside the lock is safe even if a TierSet drops it meanwhile.
            ExpertFfn hot = ExpertCheckpoint.ToExpertFfn(expert.Tensors, warm ?? ReadVerified(expert), _device);
            Install(expert, fetch, hot);
        }
        catch (Exception e)
        {
            Fail(expert, fetch, e);
        }
    }

    async Task ReserveHotAsync(ResidentExpert expert, ExpertFetch fetch)
    {
        while (true)
        {
            Task roomFreed;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (fetch.Abandoned) throw new OperationCanceledException($"nobody waits for expert {expert.Key} any more");
                if (fetch.Reserved) return;
                if (_hot.TryReserve(expert.HotBytes, fetch.Evictions == EvictionKind.Forced ? _evictForced : _evictPlanned))
                {
                    fetch.Reserved = true;
                    return;
                }
                long self = expert.Assigned == Tier.Hot ? expert.HotBytes : 0;
                if (!_hot.AssignmentFits(expert.HotBytes, alreadyAssigned: self))
                    throw new InvalidOperationException(
                        $"expert {expert.Key} needs {expert.HotBytes} hot bytes, but experts assigned hot take {_hot.Assigned - self} of the {_hot.Cap}-byte hot budget");
                _counters.RoomWaited();
                roomFreed = _hot.RoomFreed();
            }
            await roomFreed.ConfigureAwait(false);
        }
    }

    void Install(ResidentExpert expert, ExpertFetch fetch, ExpertFfn hot)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                hot.Dispose();
                throw new ObjectDisposedException(GetType().FullName);
            }
            expert.Hot = hot;
            expert.LastUsed = ++_clock;
            expert.Leases += fetch.LeaseWaiters;
            if (expert.Fetch == fetch) expert.Fetch = null;
            fetch.Installed = true;
            _counters.Promoted(fetch.Source, expert.HotBytes);
            if (fetch.IsPrefetch)
            {
                if (fetch.LeaseWaiters > 0)
                {
                    _counters.PrefetchUsed();
                    PrefetchLayers.PrefetchUsed(expert.Key.Layer, expert.HotBytes);
                }
                else expert.PrefetchedUnused = true;
            }
            if (expert.Assigned == Tier.Hot) DropWarm(expert);
            else if (fetch.LeaseWaiters == 0) _hot.SignalRoom();
        }
        fetch.Done.SetResult(hot);
    }

    void Fail(ResidentExpert expert, ExpertFetch fetch, Exception error)
    {
        lock (_gate)
        {
            if (fetch.Reserved && !_disposed) _hot.Release(expert.HotBytes);
            if (expert.Fetch == fetch) expert.Fetch = null;
        }
        if (fetch.Abandoned)
        {
            fetch.Done.SetCanceled();
            return;
        }
        if (fetch.IsPrefetch)
        {
            _counters.PrefetchFailed();
            PrefetchLayers.PrefetchFailed(expert.Key.Layer);
            TierStoreLog.PrefetchFailed(_logger, expert.Key, error);
        }
        else
        {
            TierStoreLog.FetchFailed(_logger, expert.Key, error);
        }
        fetch.Done.SetException(error);
        // A prefetch may have nobody awaiting it; observing the error keeps it from resurfacing as unobserved.
        _ = fetch.Done.Task.Exception;
    }

    byte[] ReadVerified(ResidentExpert expert)
    {
        byte[] raw = _checkpoint.ReadBytes(expert.Tensors);
        try
        {
            expert.Fingerprint.Verify(expert.Tensors, raw);
        }
        catch (IntegrityException)
        {
            _counters.IntegrityFailed();
            throw;
        }
        return raw;
    }

    /// <summary>Frees the expert's hot copy. Caller holds _gate.</summary>
    void DropHot(ResidentExpert expert, EvictionKind kind)
    {
        expert.Hot!.Dispose();
        expert.Hot = null;
        expert.DropWhenReleased = false;
        if (expert.PrefetchedUnused)
        {
            expert.PrefetchedUnused = false;
            _counters.PrefetchWasted();
            PrefetchLayers.PrefetchWasted(expert.Key.Layer, expert.HotBytes);
        }
        _counters.Evicted(kind, expert.HotBytes);
        _hot.Release(expert.HotBytes);
    }

    /// <summary>Caller holds _gate.</summary>
    void DropWarm(ResidentExpert expert)
    {
        if (expert.Warm is null) return;
        expert.Warm = null;
        _warmUsed -= expert.WarmBytes;
        _counters.WarmDropped(expert.WarmBytes);
    }

    /// <summary>Caller holds _gate.</summary>
    void ReserveWarm(ResidentExpert expert)
    {
        if (_warmUsed + expert.WarmBytes > _warmCap)
            throw new InvalidOperationException(
                $"expert {expert.Key} needs {expert.WarmBytes} warm bytes; the warm tier holds {_warmUsed} of its {_warmCap}-byte budget");
        _warmUsed += expert.WarmBytes;
        _warmHighWater = Math.Max(_warmHighWater, _warmUsed);
    }
}
