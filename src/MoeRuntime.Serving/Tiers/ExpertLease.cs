using MoeRuntime.Model.Layers;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// The right to use one hot expert until disposed: while any lease is held the store neither evicts nor frees the
/// expert's tensors, even if a TierSet demotes it meanwhile.
/// </summary>
public sealed class ExpertLease : IDisposable
{
    readonly ExpertTierStore _store;
    readonly ResidentExpert _resident;
    int _released;

    internal ExpertLease(ExpertTierStore store, ResidentExpert resident, ExpertFfn expert, Tier foundIn, TimeSpan fetchTime)
    {
        _store = store;
        _resident = resident;
        Expert = expert;
        FoundIn = foundIn;
        FetchTime = fetchTime;
    }

    public ExpertKey Key => _resident.Key;

    /// <summary>The hot expert; valid until this lease is disposed.</summary>
    public ExpertFfn Expert { get; }

    /// <summary><see cref="Tier.Hot"/> on a hit; otherwise the tier the expert was fetched from.</summary>
    public Tier FoundIn { get; }

    /// <summary>How long this acquisition waited for the expert to become hot; zero on a hit.</summary>
    public TimeSpan FetchTime { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) _store.Release(_resident);
    }
}
