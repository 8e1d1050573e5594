using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Tiers;
using Orleans.Runtime;
using MoeRuntime.Grains.Security;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// A model's placement map: the replica sets of the experts that left their default placement, and every
/// version's author, time, reason and changes. The current version is kept in <see cref="ControlStorage"/>, so a
/// new activation (the grain moved to another silo) serves the same map and routers keep their replicas; the
/// history of earlier versions stays in memory. A replica on a rank that has gone is skipped by the routers.
/// </summary>
public sealed class ExpertPlacementGrain(
    [PersistentState("placement-map", ControlStorage.Name)] IPersistentState<PlacementMapView> saved,
    ModelHost host, RankDirectory ranks, TimeProvider time, ILogger<ExpertPlacementGrain> logger)
    : Grain, IExpertPlacementGrain
{
    const int KeptVersions = 100;
    readonly List<PlacementMapView> _history = [];
    PlacementMapView _current = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.EnsureServes(this.GetPrimaryKeyString());
        if (saved.RecordExists && saved.State.Model == host.ModelName)
        {
            _current = saved.State;
            _history.Add(_current);
            logger.LogInformation("Placement map {Model}: carries on from v{Version} ({Replicated} experts replicated or moved)",
                host.ModelName, _current.Version, _current.Replicas.Count);
            return Task.CompletedTask;
        }
        _current = new PlacementMapView
        {
            Model = host.ModelName,
            Version = 1,
            ChangedBy = "silo",
            ChangedAt = time.GetUtcNow(),
            Reason = "every expert on its round-robin owner",
        };
        _history.Add(_current);
        return Task.CompletedTask;
    }

    public Task<PlacementMapView> GetAsync() => Task.FromResult(_current);

    public Task<PlacementMapView?> GetIfChangedAsync(long knownVersion) =>
        Task.FromResult(knownVersion == _current.Version ? null : _current);

    public Task<PlacementMapView[]> GetHistoryAsync(int maxVersions) =>
        Task.FromResult(_history.TakeLast(Math.Clamp(maxVersions, 1, KeptVersions)).Reverse().ToArray());

    public async Task<PlacementMapView> ApplyAsync(PlacementMapUpdate update)
    {
        if (update.ExpectedVersion is { } expected && expected != _current.Version)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"the placement map is at version {_current.Version}, the change was computed against {expected}");
        string author = MoeCaller.Author(update.ChangedBy);
        if (string.IsNullOrWhiteSpace(author) || string.IsNullOrWhiteSpace(update.Reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a placement change needs who made it and why");
        var live = ranks.LiveRanks().ToHashSet();
        var replicas = new Dictionary<string, int[]>(_current.Replicas);
        foreach (var (text, wanted) in update.Replicas)
        {
            string key = GrainKeys.ExpertOfModel(text, host.ModelName, host.Config).ToString();
            int[] sorted = wanted.Distinct().Order().ToArray();
            if (sorted.Length != wanted.Length)
                throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} lists a rank twice: one rank holds at most one replica of an expert");
            int dead = sorted.FirstOrDefault(r => !live.Contains(r), -1);
            if (dead >= 0)
                throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"rank {dead} is not an active rank of the cluster (active: {string.Join(", ", live.Order())})");
            if (sorted.Length == 0) replicas.Remove(key);
            else replicas[key] = sorted;
        }
        var next = new PlacementMapView
        {
            Model = host.ModelName,
            Version = _current.Version + 1,
            Replicas = replicas,
            ChangedBy = author,
            ChangedAt = time.GetUtcNow(),
            Reason = update.Reason,
            Changes = update.Changes,
            TrialRanks = update.TrialRanks,
            TrialBefore = update.TrialBefore,
        };
        // Stored before it is served: a map routers saw must survive the grain moving.
        saved.State = next;
        await saved.WriteStateAsync();
        _current = next;
        _history.Add(_current);
        if (_history.Count > KeptVersions) _history.RemoveAt(0);
        logger.LogInformation("Placement map {Model} v{Version} by {ChangedBy}: {Reason} ({Changes})",
            host.ModelName, _current.Version, author, update.Reason, string.Join("; ", update.Changes));
        return _current;
    }
}
