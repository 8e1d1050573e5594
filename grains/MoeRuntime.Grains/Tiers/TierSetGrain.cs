using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Control;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Grains.Security;

namespace MoeRuntime.Grains.Tiers;

/// <summary>
/// A rank's TierSet: the versions, each with its author, time and reason, and the live application of
/// the newest to the rank's tier store. Lives on its rank, so applying a version is a local call.
/// </summary>
[RankPlacement]
public sealed class TierSetGrain(ModelHost host, RankTierPolicy policy, IOptions<MoeSiloOptions> options, TimeProvider time, ILogger<TierSetGrain> logger)
    : Grain, ITierSetGrain
{
    const int KeptVersions = 100;
    readonly List<TierSetView> _history = [];
    TierSet _current = null!;
    long _hotCeiling;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        host.EnsureServes(key[..key.LastIndexOf('/')]);
        int rank = GrainKeys.RankOf(key);
        if (rank != host.Rank) throw new InvalidOperationException($"TierSet of rank {rank} activated on rank {host.Rank}");
        _current = new TierSet(host.ModelName, rank, 1, policy.Named,
            new TierBudgets(options.Value.HotBudgetBytes, options.Value.WarmBudgetBytes),
            new TierSetChange("silo", time.GetUtcNow(), "initial configuration"));
        _history.Add(View(_current));
        _hotCeiling = options.Value.HotBudgetBytes;
        return Task.CompletedTask;
    }

    public Task<TierSetView> GetAsync() => Task.FromResult(View(_current));

    public Task<TierSetView[]> GetHistoryAsync(int maxVersions) =>
        Task.FromResult(_history.TakeLast(Math.Clamp(maxVersions, 1, KeptVersions)).Reverse().ToArray());

    public Task<TierStoreStats> GetStoreStatsAsync() => Task.FromResult(Stats(host.Store.Snapshot()));

    public Task<TierControlState> GetControlStateAsync()
    {
        TierStoreSnapshot snapshot = host.Store.Snapshot();
        return Task.FromResult(new TierControlState
        {
            View = View(_current, snapshot),
            Experts = snapshot.Experts.Select(e =>
            {
                var (hotBytes, warmBytes) = host.Store.SizeOf(e.Key);
                return new ExpertControlState { Expert = e.Key.ToString(), Tier = TierNames.Of(e.Assigned), HotBytes = hotBytes, WarmBytes = warmBytes, Uses = e.Uses };
            }).ToArray(),
            Store = Stats(snapshot),
            HotCeilingBytes = _hotCeiling,
        });
    }

    static TierStoreStats Stats(TierStoreSnapshot snapshot)
    {
        TierStoreCounters c = snapshot.Counters;
        return new TierStoreStats
        {
            Hits = c.Hits,
            MissesFromWarm = c.MissesFromWarm,
            MissesFromCold = c.MissesFromCold,
            FetchSecondsFromWarm = c.FetchSecondsFromWarm,
            FetchSecondsFromCold = c.FetchSecondsFromCold,
            ForcedEvictions = c.ForcedEvictions,
            PlannedEvictions = c.PlannedEvictions,
            PrefetchIssued = c.PrefetchIssued,
            PrefetchUsed = c.PrefetchUsed,
            PrefetchWasted = c.PrefetchWasted,
            IntegrityFailures = c.IntegrityFailures,
            HotHighWaterBytes = snapshot.Hot.HighWaterBytes,
            WarmHighWaterBytes = snapshot.Warm.HighWaterBytes,
            WarmFetchedBytes = c.BytesWarmToHot,
            ColdFetchedBytes = c.BytesColdToHot,
            TransientHits = c.TransientHits,
        };
    }

    public async Task<TierSetView> UpdateAsync(TierSetUpdate update)
    {
        if (update.ExpectedVersion is { } expected && expected != _current.Version)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"the TierSet is at version {_current.Version}, the change was computed against {expected}");
        // The author is who the connection proved the caller to be; a name typed in the update counts only from a silo's own code.
        string author = MoeCaller.Author(update.ChangedBy);
        if (string.IsNullOrWhiteSpace(author) || string.IsNullOrWhiteSpace(update.Reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a TierSet change needs who made it and why");
        var named = new Dictionary<ExpertKey, Tier>(_current.Assignment);
        foreach (var (expert, tierName) in update.Tiers)
        {
            ExpertKey key = GrainKeys.ExpertOfModel(expert, host.ModelName, host.Config);
            named[key] = ControlRequests.Tier(tierName);
        }
        if (update.HotBudgetIsLimit && update.HotBudgetBytes is null)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a hot limit needs HotBudgetBytes");
        if (update.HotBudgetIsLimit && update.HotBudgetBytes > _hotCeiling)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                $"{author} may not raise the hot limit to {update.HotBudgetBytes} bytes, over the ceiling of {_hotCeiling} (the configuration's or an operator's)");
        var budgets = new TierBudgets(update.HotBudgetBytes ?? _current.Budgets.HotBytes, update.WarmBudgetBytes ?? _current.Budgets.WarmBytes);
        var next = new TierSet(host.ModelName, host.Rank, _current.Version + 1, named, budgets,
            new TierSetChange(author, time.GetUtcNow(), update.Reason));

        // The store applies tiers to the experts it holds; the others take theirs when they register.
        var registered = host.Store.Experts.ToHashSet();
        var applied = next with { Assignment = registered.ToDictionary(k => k, k => named.TryGetValue(k, out Tier t) ? t : host.DefaultTier) };
        try
        {
            await host.Store.ApplyAsync(applied, CancellationToken.None);
        }
        catch (ArgumentException e)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        policy.Set(named);
        _current = next;
        if (!update.HotBudgetIsLimit && update.HotBudgetBytes is { } ceiling) _hotCeiling = ceiling;
        _history.Add(View(next));
        if (_history.Count > KeptVersions) _history.RemoveAt(0);
        logger.LogInformation("TierSet {Model} rank {Rank} v{Version} by {ChangedBy}: {Reason} ({Changed} experts named)",
            next.Model, next.Rank, next.Version, author, update.Reason, update.Tiers.Count);
        return View(next);
    }

    TierSetView View(TierSet set) => View(set, host.Store.Snapshot());

    static TierSetView View(TierSet set, TierStoreSnapshot snapshot)
    {
        var tiers = snapshot.Experts.ToDictionary(e => e.Key.ToString(), e => TierNames.Of(e.Assigned));
        foreach (var (key, tier) in set.Assignment) tiers[key.ToString()] = TierNames.Of(tier);
        return new TierSetView
        {
            Model = set.Model,
            Rank = set.Rank,
            Version = set.Version,
            Tiers = tiers,
            HotBudgetBytes = set.Budgets.HotBytes,
            WarmBudgetBytes = set.Budgets.WarmBytes,
            HotBytesUsed = snapshot.Hot.UsedBytes,
            WarmBytesUsed = snapshot.Warm.UsedBytes,
            ChangedBy = set.Change.ChangedBy,
            ChangedAt = set.Change.At,
            Reason = set.Change.Reason,
        };
    }
}
