using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// One copy of an expert, the front other ranks call: <c>model/layer/expert</c> on the rank that owns it, or a replica
/// <c>model/layer/expert@rank</c> pinned to that rank. The work (leasing the tensors from the rank's tier store, the FFN,
/// the finite check and quarantine, the routing re-check) is the rank's <see cref="ExpertExecutor"/>'s, which the router on
/// the same rank also calls directly; the grain registers the expert with its rank's tier store on activation and reports
/// its copy's calls.
/// </summary>
[ExpertPlacement]
public sealed class ExpertGrain(ExpertExecutor executor, ModelHost host) : Grain, IExpertGrain
{
    ExpertKey _key;
    bool _replica;
    string _grainKey = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _grainKey = this.GetPrimaryKeyString();
        (_key, int? rank) = GrainKeys.ParseExpert(_grainKey);
        _replica = rank is not null;
        executor.Activate(_key);
        return Task.CompletedTask;
    }

    public Task<TensorPayload> ComputeAsync(TensorPayload tokens, RoutingCheck? check, CancellationToken cancellationToken) =>
        executor.ComputeAsync(_key, _replica, tokens, check, cancellationToken);

    public Task PrefetchAsync()
    {
        host.Store.Prefetch(_key);
        return Task.CompletedTask;
    }

    public Task<ExpertInfo> GetInfoAsync() => Task.FromResult(executor.Info(_grainKey, _key, _replica));
}
