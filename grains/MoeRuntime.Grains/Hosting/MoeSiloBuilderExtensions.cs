using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Control;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Grains.Security;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Grains.Tiers;
using MoeRuntime.Serving.Dispatch;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MoeRuntime.Grains.Hosting;

/// <summary>Wires one MoeRuntime rank into an Orleans silo.</summary>
public static class MoeSiloBuilderExtensions
{
    /// <summary>
    /// Adds the rank's services, grains' placement and rank metadata. Options are bound from the <c>Moe</c> configuration
    /// tree (<see cref="MoeConfiguration.AddMoeOptions"/>), then <paramref name="configure"/>, and validated on start.
    /// </summary>
    public static ISiloBuilder AddMoeRuntime(this ISiloBuilder builder, Action<MoeSiloOptions>? configure = null)
    {
        builder.Services.AddMoeOptions(builder.Configuration, configure);
        // Every configuration reload (applied live, waiting for a restart, or refused) goes to the decision log.
        builder.Services.AddHostedService<ConfigurationReloadLog>();
        // Failure detection tuned for serving: a lost rank's experts answer again once it is declared dead.
        builder.Services.AddOptions<Orleans.Configuration.ClusterMembershipOptions>()
            .Configure<IOptions<MoeSiloOptions>>((membership, moe) => moe.Value.FailureDetection.ApplyTo(membership));
        // Orleans takes the silo's metadata as values while the silo is being built, before any options exist; the rank
        // is read through the same binding (and checked with the rest when the silo starts).
        builder.UseSiloMetadata(new Dictionary<string, string> { [RankDirectory.MetadataKey] = MoeConfiguration.Rank(builder.Configuration, configure).ToString() });
        // One trace from client to router to expert grains on other ranks.
        builder.AddActivityPropagation();
        // Roles on every grain call, from proofs the connection's side attached (docs/security.md).
        builder.Services.AddSingleton<CallerAuthentication>();
        builder.AddIncomingGrainCallFilter<RoleCallFilter>();
        builder.AddOutgoingGrainCallFilter<InternalProofFilter>();
        builder.AddIncomingGrainCallFilter<PinnedReplicaDelayFilter>();  // Moe:FaultInjection: passes every call through unless set
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton(TenantPrivacy.Pseudonyms);
        builder.Services.AddSingleton<ModelHost>();
        // Messages no larger than the model's payloads need (see MessageSizeLimit), not Orleans' 100 MB default.
        builder.Services.AddOptions<SiloMessagingOptions>()
            .Configure<ModelHost, IOptions<MoeSiloOptions>>((messaging, host, moe) => messaging.MaxMessageBodySize = MessageSizeLimit.For(host.Config, moe.Value));
        builder.Services.AddSingleton<RankDirectory>();
        builder.Services.AddSingleton<RankTierPolicy>();
        builder.Services.AddSingleton(sp =>
        {
            ModelHost host = sp.GetRequiredService<ModelHost>();
            TelemetryOptions telemetry = sp.GetRequiredService<IOptions<TelemetryOptions>>().Value;
            return new RankCollector(new RankCollectorOptions
            {
                RankId = host.Rank.ToString(),
                Model = host.ModelName,
                Layers = host.Config.LayerCount,
                Experts = host.Config.ExpertCount,
                SampleEveryNTokens = telemetry.SampleEveryNTokens,
                Costs = telemetry.Costs,
            });
        });
        // The default registry also carries .NET's and Orleans' own meters (prometheus-net's meter adapter).
        builder.Services.AddSingleton(sp =>
        {
            ModelHost host = sp.GetRequiredService<ModelHost>();
            return new PrometheusExporter(Prometheus.Metrics.DefaultRegistry, host.ModelName, host.Rank.ToString(), host.Config.LayerCount, host.Config.ExpertCount,
                sp.GetRequiredService<LatencyExemplars>());
        });
        // Trace-id exemplars for the latency histograms: RankTelemetry offers them, the exporter attaches them (OpenMetrics).
        builder.Services.AddSingleton<LatencyExemplars>();
        builder.Services.AddSingleton(sp =>
        {
            ModelHost host = sp.GetRequiredService<ModelHost>();
            return new OpenTelemetryBridge(host.ModelName, host.Rank.ToString());
        });
        builder.Services.AddSingleton<TelemetryAgent>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<TelemetryAgent>());
        builder.Services.AddSingleton(sp => new RankTelemetry(sp.GetRequiredService<RankCollector>(), sp.GetRequiredService<IOptions<TelemetryOptions>>(),
            sp.GetRequiredService<LatencyExemplars>(), sp.GetRequiredService<ModelHost>().Device.type == TorchSharp.DeviceType.CUDA ? "cuda" : "cpu"));
        builder.Services.AddSingleton<RouterDemand>();
        builder.Services.AddSingleton<PlacementMapCache>();
        builder.Services.AddSingleton<TelemetrySamplingCache>();
        builder.AddPrefetchControl();
        // The gates alone, for expert grains re-checking routing: nothing else of the router's dense model.
        builder.Services.AddSingleton(sp => RoutingGates.Of(sp.GetRequiredService<ModelHost>().DenseModel));
        builder.Services.AddSingleton<ShadowEvaluator>();
        builder.Services.AddSingleton<ExpertExecutor>();
        builder.Services.AddSingleton<RouterRuntime>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RouterRuntime>());
        builder.Services.AddSingleton<ControllerStarter>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ControllerStarter>());
        builder.Services.AddPlacementDirector<ExpertPlacement, ExpertPlacementDirector>();
        builder.Services.AddPlacementDirector<RankPlacement, RankPlacementDirector>();
        return builder;
    }
}

