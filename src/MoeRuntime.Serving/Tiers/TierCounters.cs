namespace MoeRuntime.Serving.Tiers;

/// <summary>The store's counters: Interlocked fields, so that recording costs no lock and no allocation.</summary>
sealed class TierCounters
{
    long _hits, _transientHits, _missesFromWarm, _missesFromCold, _fetchTicksFromWarm, _fetchTicksFromCold;
    long _forcedEvictions, _plannedEvictions;
    long _coldToHot, _warmToHot, _coldToWarm, _hotDropped, _warmDropped;
    long _prefetchIssued, _prefetchUsed, _prefetchWasted, _prefetchSkipped, _prefetchFailures;
    long _integrityFailures, _roomWaits;

    public void Hit(bool transient)
    {
        Interlocked.Increment(ref _hits);
        if (transient) Interlocked.Increment(ref _transientHits);
    }

    public void Miss(Tier source, TimeSpan waited)
    {
        if (source == Tier.Warm)
        {
            Interlocked.Increment(ref _missesFromWarm);
            Interlocked.Add(ref _fetchTicksFromWarm, waited.Ticks);
        }
        else
        {
            Interlocked.Increment(ref _missesFromCold);
            Interlocked.Add(ref _fetchTicksFromCold, waited.Ticks);
        }
    }

    public void Evicted(EvictionKind kind, long hotBytes)
    {
        Interlocked.Increment(ref kind == EvictionKind.Forced ? ref _forcedEvictions : ref _plannedEvictions);
        HotDropped(hotBytes);
    }

    public void Promoted(Tier source, long hotBytes) => Interlocked.Add(ref source == Tier.Warm ? ref _warmToHot : ref _coldToHot, hotBytes);
    public void Warmed(long warmBytes) => Interlocked.Add(ref _coldToWarm, warmBytes);
    public void HotDropped(long hotBytes) => Interlocked.Add(ref _hotDropped, hotBytes);
    public void WarmDropped(long warmBytes) => Interlocked.Add(ref _warmDropped, warmBytes);
    public void PrefetchIssued() => Interlocked.Increment(ref _prefetchIssued);
    public void PrefetchUsed() => Interlocked.Increment(ref _prefetchUsed);
    public void PrefetchWasted() => Interlocked.Increment(ref _prefetchWasted);
    public void PrefetchSkipped() => Interlocked.Increment(ref _prefetchSkipped);
    public void PrefetchFailed() => Interlocked.Increment(ref _prefetchFailures);
    public void IntegrityFailed() => Interlocked.Increment(ref _integrityFailures);
    public void RoomWaited() => Interlocked.Increment(ref _roomWaits);

    public TierStoreCounters Read(long checkpointBytesRead) => new()
    {
        Hits = Interlocked.Read(ref _hits),
        TransientHits = Interlocked.Read(ref _transientHits),
        MissesFromWarm = Interlocked.Read(ref _missesFromWarm),
        MissesFromCold = Interlocked.Read(ref _missesFromCold),
        FetchSecondsFromWarm = TimeSpan.FromTicks(Interlocked.Read(ref _fetchTicksFromWarm)).TotalSeconds,
        FetchSecondsFromCold = TimeSpan.FromTicks(Interlocked.Read(ref _fetchTicksFromCold)).TotalSeconds,
        ForcedEvictions = Interlocked.Read(ref _forcedEvictions),
        PlannedEvictions = Interlocked.Read(ref _plannedEvictions),
        BytesColdToHot = Interlocked.Read(ref _coldToHot),
        BytesWarmToHot = Interlocked.Read(ref _warmToHot),
        BytesColdToWarm = Interlocked.Read(ref _coldToWarm),
        BytesHotDropped = Interlocked.Read(ref _hotDropped),
        BytesWarmDropped = Interlocked.Read(ref _warmDropped),
        PrefetchIssued = Interlocked.Read(ref _prefetchIssued),
        PrefetchUsed = Interlocked.Read(ref _prefetchUsed),
        PrefetchWasted = Interlocked.Read(ref _prefetchWasted),
        PrefetchSkipped = Interlocked.Read(ref _prefetchSkipped),
        PrefetchFailures = Interlocked.Read(ref _prefetchFailures),
        IntegrityFailures = Interlocked.Read(ref _integrityFailures),
        RoomWaits = Interlocked.Read(ref _roomWaits),
        CheckpointBytesRead = checkpointBytesRead,
    };
}
