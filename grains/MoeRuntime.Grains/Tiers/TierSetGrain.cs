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
/// the newest to the rank's tier store. Lives on its rank, so applying a version is a local call. The newest
/// <see cref="KeptVersions"/> versions, what the newest names and the hot ceiling are kept in
/// <see cref="ControlStorage"/>: a new activation (the grain's or the rank's restart) keeps the history and restores the
/// newest version's tiers and budgets as the next version.
/// </summary>
[RankPlacement]
public sealed class TierSetGrain(
    [PersistentState("tierset", ControlStorage.Name)] IPersistentState<TierSetState> saved,
    ModelHost host, RankTierPolicy policy, IOptions<MoeSiloOptions> options, TimeProvider time, ILogger<TierSetGrain> logger)
    : Grain, ITierSetGrain
{
    /// <summary>Versions kept, in memory and in storage.</summary>
    public const int KeptVersions = 100;
    readonly List<TierSetView> _history = [];
    TierSet _current = null!;
    long _hotCeiling;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        host.EnsureServes(key[..key.LastIndexOf('/')]);
        int rank = GrainKeys.RankOf(key);
        if (rank != host.Rank) throw new InvalidOperationException($"TierSet of rank {rank} activated on rank {host.Rank}");
        var configured = new TierBudgets(options.Value.HotBudgetBytes, options.Value.WarmBudgetBytes);
        _hotCeiling = options.Value.HotBudgetBytes;
        if (saved.State.Versions is not { Count: > 0 } versions)
        {
            _current = new TierSet(host.ModelName, rank, 1, policy.Named, configured, new TierSetChange("silo", time.GetUtcNow(), "initial configuration"));
            _history.Add(View(_current));
            return;
        }

        // A restart: the history goes on, and the newest version's tiers and budgets are applied again as the next version.
        _history.AddRange(versions.TakeLast(KeptVersions));
        TierSetView last = _history[^1];
        if (saved.State.HotCeilingBytes > 0) _hotCeiling = saved.State.HotCeilingBytes;
        var named = new Dictionary<ExpertKey, Tier>();
        foreach (var (expert, tier) in saved.State.Named)
            if (TryRestore(expert, tier) is { } restored) named[restored] = TierNames.Parse(tier);
        var next = new TierSet(host.ModelName, rank, last.Version + 1, named, new TierBudgets(last.HotBudgetBytes, last.WarmBudgetBytes),
            new TierSetChange("silo", time.GetUtcNow(), $"restored v{last.Version} ({last.ChangedBy}: {last.Reason}) on activation"));
        try
        {
            await ApplyAsync(next, named);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("TierSet {Model} rank {Rank}: v{Version} could not be restored ({Error}); back to the configuration", host.ModelName, rank, last.Version, e.Message);
            next = new TierSet(host.ModelName, rank, last.Version + 1, new Dictionary<ExpertKey, Tier>(), configured,
                new TierSetChange("silo", time.GetUtcNow(), $"configuration: restoring v{last.Version} failed: {e.Message}"));
            _hotCeiling = options.Value.HotBudgetBytes;
            await ApplyAsync(next, next.Assignment);
        }
        _current = next;
        await KeepAsync(View(next), next.Assignment);
        logger.LogInformation("TierSet {Model} rank {Rank} v{Version}: {Reason}; {Versions} versions kept", host.ModelName, rank, next.Version, next.Change.Reason, _history.Count);
    }

    /// <summary>A stored expert key of this model, or null (logged) when it no longer names one: the model changed meanwhile.</summary>
    ExpertKey? TryRestore(string expert, string tier)
    {
        try
        {
            ExpertKey key = GrainKeys.ExpertOfModel(expert, host.ModelName, host.Config);
            TierNames.Parse(tier);
            return key;
        }
        catch (Exception e) when (e is MoeRequestException or ArgumentException or FormatException)
        {
            logger.LogWarning("TierSet {Model} rank {Rank}: stored tier {Tier} of {Expert} dropped: {Error}", host.ModelName, host.Rank, tier, expert, e.Message);
            return null;
        }
    }

    /// <summary>Applies <paramref name="set"/> to the experts the store holds (the others take theirs when they register).</summary>
    async Task ApplyAsync(TierSet set, IReadOnlyDictionary<ExpertKey, Tier> named)
    {
        var registered = host.Store.Experts.ToHashSet();
        var applied = set with { Assignment = registered.ToDictionary(k => k, k => named.TryGetValue(k, out Tier t) ? t : host.DefaultTier) };
        await host.Store.ApplyAsync(applied, CancellationToken.None);
        policy.Set(named);
    }

    /// <summary>Adds a version to the history (bounded) and writes the history to storage; a failed write is logged, not thrown.</summary>
    async Task KeepAsync(TierSetView view, IReadOnlyDictionary<ExpertKey, Tier> named)
    {
        if (_history.Count == 0 || _history[^1].Version != view.Version) _history.Add(view);
        if (_history.Count > KeptVersions) _history.RemoveRange(0, _history.Count - KeptVersions);
        saved.State = new TierSetState
        {
            Versions = [.. _history],
            Named = named.ToDictionary(n => n.Key.ToString(), n => TierNames.Of(n.Value)),
            HotCeilingBytes = _hotCeiling,
        };
        try
        {
            await saved.WriteStateAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "TierSet {Model} rank {Rank} v{Version} applied but not stored; a restart would lose it", host.ModelName, host.Rank, view.Version);
        }
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

        try
        {
            await ApplyAsync(next, named);
        }
        catch (ArgumentException e)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        _current = next;
        if (!update.HotBudgetIsLimit && update.HotBudgetBytes is { } ceiling) _hotCeiling = ceiling;
        await KeepAsync(View(next), named);
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
