using System.Net;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Model.Generation;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The start-up checks of every option, one validator per options class: each failure names the full key and the value.
/// <see cref="MoeConfiguration"/> registers them; nothing else range-checks or clamps an option after start-up.
/// </summary>
static class MoeOptionsValidation
{
    /// <summary>Section <c>Moe</c>: the rank, its model and budgets, its router, balancing and tier controllers.</summary>
    internal sealed class Moe : IValidateOptions<MoeSiloOptions>
    {
        public ValidateOptionsResult Validate(string? name, MoeSiloOptions o)
        {
            var c = new OptionChecks(MoeSiloOptions.Section);
            c.NotBlank(o.ModelName, nameof(o.ModelName));
            // The model name is a grain key and the first part of the TierSet keys "model/rank".
            if (o.ModelName.Contains('/')) c.Fail(nameof(o.ModelName), $"must not contain '/', was '{o.ModelName}'");
            if (o.ModelRevision.Length > 64 || o.ModelRevision.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '-' or '_' or '+')))
                c.Fail(nameof(o.ModelRevision), $"must be at most 64 letters, digits, '.', '-', '_' or '+' (a label value), was '{o.ModelRevision}'");
            if (!string.IsNullOrWhiteSpace(o.ModelPath) && File.Exists(o.ModelPath))
                c.Fail(nameof(o.ModelPath), $"must be a checkpoint directory, not a file, was '{o.ModelPath}'");
            if (!IsDevice(o.Device)) c.Fail(nameof(o.Device), $"must be cpu, cuda or cuda:N, was '{o.Device}'");
            c.AtLeast(o.Rank, 0, nameof(o.Rank));
            c.AtLeast(o.HotBudgetBytes, 0, nameof(o.HotBudgetBytes));
            c.AtLeast(o.WarmBudgetBytes, 0, nameof(o.WarmBudgetBytes));
            c.Defined(o.DefaultTier, nameof(o.DefaultTier));
            c.AtLeast(o.MaxQueuedRequests, 1, nameof(o.MaxQueuedRequests));
            c.Between(o.WarmupRequests, 0, MoeSiloOptions.MaxWarmupRequests, nameof(o.WarmupRequests));
            c.AtLeast(o.MaxBatchSequences, 1, nameof(o.MaxBatchSequences));
            c.AtLeast(o.MaxBatchTokens, 1, nameof(o.MaxBatchTokens));
            c.Timeout(o.DrainTimeout, nameof(o.DrainTimeout));
            c.Timeout(o.BatcherRestartDelay, nameof(o.BatcherRestartDelay));
            c.Timeout(o.BatcherMaxRestartDelay, nameof(o.BatcherMaxRestartDelay));
            if (o.BatcherMaxRestartDelay < o.BatcherRestartDelay)
                c.Fail(nameof(o.BatcherMaxRestartDelay), $"must be at least Moe:BatcherRestartDelay ({o.BatcherRestartDelay}), was {o.BatcherMaxRestartDelay}");
            c.AtLeast(o.PrefetchLookahead, 0, nameof(o.PrefetchLookahead));
            c.Timeout(o.ExpertCallTimeout, nameof(o.ExpertCallTimeout));
            c.NotNegative(o.ExpertCallRetryWindow, nameof(o.ExpertCallRetryWindow));
            if (o.ExpertCallTimeout > TimeSpan.Zero && o.ExpertCallRetryWindow > TimeSpan.Zero && o.ExpertCallTimeout >= o.ExpertCallRetryWindow)
                c.Fail(nameof(o.ExpertCallTimeout), $"must be less than ExpertCallRetryWindow ({o.ExpertCallRetryWindow}) so that a timed-out call can be retried, was {o.ExpertCallTimeout}");
            c.NotNegative(o.ExpertCallHedgeAfter, nameof(o.ExpertCallHedgeAfter));
            if (o.ExpertCallHedgeAfter > TimeSpan.Zero && o.ExpertCallTimeout > TimeSpan.Zero && o.ExpertCallHedgeAfter >= o.ExpertCallTimeout)
                c.Fail(nameof(o.ExpertCallHedgeAfter), $"must be less than ExpertCallTimeout ({o.ExpertCallTimeout}), or zero to turn hedging off, was {o.ExpertCallHedgeAfter}");
            c.Timeout(o.ExpertDetourPeriod, nameof(o.ExpertDetourPeriod));
            c.Defined(o.WireFormat, nameof(o.WireFormat));
            c.AtLeast(o.RoutingCheckEveryNTokens, 1, nameof(o.RoutingCheckEveryNTokens));
            if (!string.IsNullOrWhiteSpace(o.RoutingTracePath) && Directory.Exists(o.RoutingTracePath.Replace("{rank}", o.Rank.ToString(), StringComparison.Ordinal)))
                c.Fail(nameof(o.RoutingTracePath), $"must name a file, not a directory, was '{o.RoutingTracePath}'");
            c.Share(o.SuccessLogSampleRatio, nameof(o.SuccessLogSampleRatio));
            c.Library(() => o.CostAwareRouting.Validate(), ("CostAwareRoutingOptions.", c.Key(nameof(o.CostAwareRouting)) + ":"));
            c.Library(() => o.Limits.Validate(), ("RequestLimits.", c.Key(nameof(o.Limits)) + ":"));
            c.Library(() => o.Overlap.Validate(), ("OverlapOptions.", c.Key(nameof(o.Overlap)) + ":"));
            TimeSpan delay = o.FaultInjection.PinnedReplicaDelay;
            if (delay < TimeSpan.Zero || delay > FaultInjectionOptions.MaxDelay)
                c.Fail($"{nameof(o.FaultInjection)}:{nameof(o.FaultInjection.PinnedReplicaDelay)}", $"must be between 0 (off) and {FaultInjectionOptions.MaxDelay}, was {delay}");
            Balancing(new OptionChecks(c.Key(nameof(o.Balancing))), o.Balancing, c);
            FailureDetection(new OptionChecks(c.Key(nameof(o.FailureDetection))), o.FailureDetection, c);
            var compute = new OptionChecks(c.Key(nameof(o.Compute)));
            compute.Between(o.Compute.IntraOpThreads, 0, ComputeOptions.MaxThreads, nameof(o.Compute.IntraOpThreads));
            compute.Between(o.Compute.InterOpThreads, 0, ComputeOptions.MaxThreads, nameof(o.Compute.InterOpThreads));
            try
            {
                o.Compute.LoopCpuList();
            }
            catch (FormatException e)
            {
                compute.Fail(nameof(o.Compute.LoopCpus), e.Message);
            }
            c.Merge(compute);
            Control(new OptionChecks(c.Key(nameof(o.Control))), o.Control, c);
            Shadow(new OptionChecks(c.Key(nameof(o.Shadow))), o.Shadow, c);
            return c.Result;
        }

        /// <summary>
        /// The candidate must be a checkpoint directory (its shape and tokenizer are compared with the primary's when the rank
        /// loads it, see <see cref="Routing.ShadowEvaluator"/>); the share, backlog and gate bounds are checked whether or not it is set.
        /// </summary>
        static void Shadow(OptionChecks c, ShadowOptions o, OptionChecks into)
        {
            if (!string.IsNullOrWhiteSpace(o.CandidatePath))
            {
                if (!Directory.Exists(o.CandidatePath))
                    c.Fail(nameof(o.CandidatePath), $"must be an existing checkpoint directory, was '{o.CandidatePath}'");
                else if (!File.Exists(Path.Combine(o.CandidatePath, MoeRuntime.Model.Configuration.ModelConfigJson.FileName)))
                    c.Fail(nameof(o.CandidatePath), $"must be a checkpoint directory with a config.json, was '{o.CandidatePath}'");
            }
            c.Share(o.Share, nameof(o.Share));
            c.AtLeast(o.MaxQueue, 1, nameof(o.MaxQueue));
            string gate = c.Key(nameof(o.Gate)) + ":";
            c.Library(() => o.Gate.Validate(), [.. new[]
            {
                nameof(ShadowGate.MinGreedyAgreement), nameof(ShadowGate.MaxMeanLogProbDivergence), nameof(ShadowGate.MinRoutingAgreement),
                nameof(ShadowGate.MaxLatencyRatio), nameof(ShadowGate.MinTokens),
            }.Select(p => (p + " must", gate + p + " must"))]);
            into.Merge(c);
        }

        static void FailureDetection(OptionChecks c, FailureDetectionOptions o, OptionChecks into)
        {
            c.Timeout(o.ProbeTimeout, nameof(o.ProbeTimeout));
            c.Between(o.NumMissedProbesLimit, 1, 10, nameof(o.NumMissedProbesLimit));
            c.Between(o.NumVotesForDeathDeclaration, 1, 10, nameof(o.NumVotesForDeathDeclaration));
            c.Timeout(o.DeathVoteExpirationTimeout, nameof(o.DeathVoteExpirationTimeout));
            c.Timeout(o.IAmAliveTablePublishTimeout, nameof(o.IAmAliveTablePublishTimeout));
            // A vote must outlive the probes that lead to the next one, or no rank ever collects enough votes.
            if (o.DeathVoteExpirationTimeout <= o.ProbeTimeout * o.NumMissedProbesLimit)
                c.Fail(nameof(o.DeathVoteExpirationTimeout), $"must exceed ProbeTimeout x NumMissedProbesLimit ({o.ProbeTimeout * o.NumMissedProbesLimit}), was {o.DeathVoteExpirationTimeout}");
            into.Merge(c);
        }

        static void Balancing(OptionChecks c, BalancingOptions o, OptionChecks into)
        {
            c.AtLeast(o.Threshold, 1, nameof(o.Threshold));
            c.AtLeast(o.ExtraReplicaSlotsPerRank, 0, nameof(o.ExtraReplicaSlotsPerRank));
            c.AtLeast(o.MaxChanges, 0, nameof(o.MaxChanges));
            c.Defined(o.LoadWindow, nameof(o.LoadWindow));
            c.Positive(o.MapRefreshInterval, nameof(o.MapRefreshInterval));
            c.AtLeast(o.LocalExpertsPerLayer, 0, nameof(o.LocalExpertsPerLayer));
            into.Merge(c);
        }

        static void Control(OptionChecks c, ControlOptions o, OptionChecks into)
        {
            c.Timeout(o.Interval, nameof(o.Interval));
            c.Defined(o.LatencyWindow, nameof(o.LatencyWindow));
            c.Timeout(o.SettingsRefreshInterval, nameof(o.SettingsRefreshInterval));
            c.AtLeast(o.BalanceEveryIntervals, 0, nameof(o.BalanceEveryIntervals));
            c.AtLeast(o.TransientHeadroomExperts, 0, nameof(o.TransientHeadroomExperts));
            // The controllers' own records check the rest; their property names become the keys they are bound from.
            c.Library(() => o.Guardrails(o.DryRun).Validate(), ("GuardrailOptions.", c.Key("")));
            string latency = c.Key(nameof(o.Latency)) + ":", cost = c.Key(nameof(o.Cost)) + ":";
            c.Library(() => o.Latency.Validate(), ("LatencyControllerOptions.", latency), ("FetchPriors.", latency + "FetchPriors:"),
                ("DriftHalfLifeOptions.", latency + "DriftHalfLife:"));
            // Memory prices from Moe:Telemetry:Costs are checked there; here the controller's own. The demand half-life
            // is the latency section's.
            c.Library(() => o.CostController(new CostRates()).Validate(),
                ("CostControllerOptions.DemandHalfLifeIntervals", latency + "DemandHalfLifeIntervals"), ("CostControllerOptions.", cost), ("CostModel.", cost));
            c.Library(() => o.Canary.Validate(), ("CanaryOptions.", c.Key(nameof(o.Canary)) + ":"));
            into.Merge(c);
        }

        static bool IsDevice(string? device)
        {
            string spec = (device ?? "").Trim().ToLowerInvariant();
            if (spec is "" or "cpu" or "cuda") return true;
            return spec.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(spec.AsSpan(5), out int index) && index >= 0;
        }
    }

    /// <summary>Section <c>Moe:Telemetry</c>.</summary>
    internal sealed class Telemetry : IValidateOptions<TelemetryOptions>
    {
        public ValidateOptionsResult Validate(string? name, TelemetryOptions o)
        {
            var c = new OptionChecks(TelemetryOptions.Section);
            c.Timeout(o.Interval, nameof(o.Interval));
            c.AtLeast(o.Shards, 1, nameof(o.Shards));
            c.AtLeast(o.StaleAfterIntervals, 1, nameof(o.StaleAfterIntervals));
            c.Positive(o.RankRetention, nameof(o.RankRetention));
            c.AtLeast(o.SampleEveryNTokens, 1, nameof(o.SampleEveryNTokens));
            if (o.PseudonymKey.Length is > 0 and < TenantPseudonyms.MinKeyLength)
                c.Fail(nameof(o.PseudonymKey), $"must be empty or at least {TenantPseudonyms.MinKeyLength} characters, has {o.PseudonymKey.Length}");
            var slo = new OptionChecks(c.Key(nameof(o.Slo)));
            slo.Positive(o.Slo.RequestP50Seconds, nameof(o.Slo.RequestP50Seconds));
            slo.Positive(o.Slo.RequestP95Seconds, nameof(o.Slo.RequestP95Seconds));
            slo.Positive(o.Slo.RequestP99Seconds, nameof(o.Slo.RequestP99Seconds));
            slo.Positive(o.Slo.MinRequestTokensPerSecond, nameof(o.Slo.MinRequestTokensPerSecond));
            slo.Positive(o.Slo.TtftP95Seconds, nameof(o.Slo.TtftP95Seconds));
            slo.Share(o.Slo.ErrorRatio, nameof(o.Slo.ErrorRatio));
            slo.Share(o.Slo.Availability, nameof(o.Slo.Availability));
            c.Merge(slo);
            var costs = new OptionChecks(c.Key(nameof(o.Costs)));
            costs.AtLeast(o.Costs.PromptUsdPer1kTokens, 0, nameof(o.Costs.PromptUsdPer1kTokens));
            costs.AtLeast(o.Costs.CompletionUsdPer1kTokens, 0, nameof(o.Costs.CompletionUsdPer1kTokens));
            costs.AtLeast(o.Costs.HotUsdPerGbHour, 0, nameof(o.Costs.HotUsdPerGbHour));
            costs.AtLeast(o.Costs.WarmUsdPerGbHour, 0, nameof(o.Costs.WarmUsdPerGbHour));
            costs.AtLeast(o.Costs.ColdUsdPerGbHour, 0, nameof(o.Costs.ColdUsdPerGbHour));
            c.Merge(costs);
            var drift = new OptionChecks(c.Key(nameof(o.RoutingDrift)));
            if (o.RoutingDrift.Slot < TimeSpan.FromSeconds(1)) drift.Fail(nameof(o.RoutingDrift.Slot), $"must be at least 00:00:01, was {o.RoutingDrift.Slot}");
            drift.Between(o.RoutingDrift.RecentSlots, 1, 360, nameof(o.RoutingDrift.RecentSlots));
            drift.Between(o.RoutingDrift.BaselineSlots, 1, 1440, nameof(o.RoutingDrift.BaselineSlots));
            drift.AtLeast(o.RoutingDrift.MinChoices, 1, nameof(o.RoutingDrift.MinChoices));
            if (!(o.RoutingDrift.Epsilon > 0 && o.RoutingDrift.Epsilon < 0.01))
                drift.Fail(nameof(o.RoutingDrift.Epsilon), $"must be in (0, 0.01), was {o.RoutingDrift.Epsilon}");
            drift.Positive(o.RoutingDrift.PsiThreshold, nameof(o.RoutingDrift.PsiThreshold));
            c.Merge(drift);
            return c.Result;
        }
    }

    /// <summary>Section <c>Moe:Control:Prefetch</c>: the controller's loop.</summary>
    internal sealed class PrefetchLoop : IValidateOptions<PrefetchControlOptions>
    {
        public ValidateOptionsResult Validate(string? name, PrefetchControlOptions o)
        {
            var c = new OptionChecks(PrefetchControlOptions.Section);
            c.Timeout(o.Interval, nameof(o.Interval));
            c.Positive(o.SettingsRefreshInterval, nameof(o.SettingsRefreshInterval));
            c.Timeout(o.RankTimeout, nameof(o.RankTimeout));
            return c.Result;
        }
    }

    /// <summary>Section <c>Moe:Control:Prefetch</c>: the policy's bounds, bound onto the library's record.</summary>
    internal sealed class PrefetchPolicy : IValidateOptions<PrefetchControllerOptions>
    {
        public ValidateOptionsResult Validate(string? name, PrefetchControllerOptions o)
        {
            var c = new OptionChecks(PrefetchControlOptions.Section);
            c.Library(o.Validate, ("PrefetchControllerOptions.", PrefetchControlOptions.Section + ":"));
            return c.Result;
        }
    }

    /// <summary>Section <c>Silo</c>: how the process joins the cluster.</summary>
    internal sealed class Host : IValidateOptions<SiloHostOptions>
    {
        public ValidateOptionsResult Validate(string? name, SiloHostOptions o)
        {
            var c = new OptionChecks(SiloHostOptions.Section);
            if (o.Clustering?.ToLowerInvariant() is not ("localhost" or "redis"))
                c.Fail(nameof(o.Clustering), $"must be localhost or redis, was '{o.Clustering}'");
            c.NotBlank(o.Redis, nameof(o.Redis));
            c.NotBlank(o.ClusterId, nameof(o.ClusterId));
            // 0 lets the system pick a free port (tests start many silos on one machine).
            c.Between(o.SiloPort, 0, IPEndPoint.MaxPort, nameof(o.SiloPort));
            c.Between(o.SiloListeningPort, 0, IPEndPoint.MaxPort, nameof(o.SiloListeningPort));
            if (o.SiloListeningPort != 0 && o.SiloListeningPort == o.SiloPort)
                c.Fail(nameof(o.SiloListeningPort), $"must differ from Silo:SiloPort (or be 0 to listen on it), was {o.SiloListeningPort}");
            c.Between(o.GatewayPort, 0, IPEndPoint.MaxPort, nameof(o.GatewayPort));
            c.Between(o.PrimarySiloPort, 0, IPEndPoint.MaxPort, nameof(o.PrimarySiloPort));
            c.Between(o.HttpPort, 0, IPEndPoint.MaxPort, nameof(o.HttpPort));
            if (!IPAddress.TryParse(o.AdvertisedAddress, out _)) c.Fail(nameof(o.AdvertisedAddress), $"must be an IP address, was '{o.AdvertisedAddress}'");
            Http(c, o);
            return c.Result;
        }
    }

    /// <summary>
    /// The HTTP listener: an IP address to bind, a certificate file when HTTPS is on, and no plain HTTP beyond loopback
    /// unless <c>Silo:AllowInsecureHttp</c> says so (the same rule as the cluster's own links).
    /// </summary>
    static void Http(OptionChecks c, SiloHostOptions o)
    {
        bool https = !string.IsNullOrWhiteSpace(o.HttpsCertificatePath);
        if (!IPAddress.TryParse(o.HttpBind, out IPAddress? bind))
            c.Fail(nameof(o.HttpBind), $"must be an IP address (127.0.0.1, 0.0.0.0, ::), was '{o.HttpBind}'");
        else if (!IPAddress.IsLoopback(bind) && !https && !o.AllowInsecureHttp)
            c.Fail(nameof(o.HttpBind), $"is {o.HttpBind}, beyond loopback, without HTTPS: set {c.Key(nameof(o.HttpsCertificatePath))} or {c.Key(nameof(o.AllowInsecureHttp))}=true");
        if (https && !File.Exists(o.HttpsCertificatePath))
            c.Fail(nameof(o.HttpsCertificatePath), $"must name a PKCS#12 certificate file, was '{o.HttpsCertificatePath}'");
        if (!https && !string.IsNullOrEmpty(o.HttpsCertificatePassword))
            c.Fail(nameof(o.HttpsCertificatePassword), $"is set but {c.Key(nameof(o.HttpsCertificatePath))} is empty");
    }

    /// <summary>Section <c>Moe:Security</c>: TLS files that exist and a known role for callers without proof.</summary>
    internal sealed class Security : IValidateOptions<MoeSecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, MoeSecurityOptions o)
        {
            var c = new OptionChecks(MoeSecurityOptions.Section);
            if (!MoeRuntime.Security.MoeRoles.TryParse(o.AnonymousRole, out _))
                c.Fail(nameof(o.AnonymousRole), $"must be client, operator or internal, was '{o.AnonymousRole}'");
            if (o.Tls)
            {
                c.NotBlank(o.Certificate, nameof(o.Certificate));
                c.NotBlank(o.CertificateAuthority, nameof(o.CertificateAuthority));
                c.NotBlank(o.InternalKeyFile, nameof(o.InternalKeyFile));
            }
            Exists(c, o.Certificate, nameof(o.Certificate));
            Exists(c, o.CertificateAuthority, nameof(o.CertificateAuthority));
            Exists(c, o.InternalKeyFile, nameof(o.InternalKeyFile));
            if (!string.IsNullOrEmpty(o.CertificatePassword) && string.IsNullOrWhiteSpace(o.Certificate))
                c.Fail(nameof(o.CertificatePassword), "is set but Certificate is not");
            if (File.Exists(o.InternalKeyFile))
            {
                try
                {
                    _ = MoeRuntime.Security.InternalCallProof.FromFile(o.InternalKeyFile);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or IOException)
                {
                    c.Fail(nameof(o.InternalKeyFile), e.Message);
                }
            }
            return c.Result;
        }

        static void Exists(OptionChecks c, string path, string key)
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path)) c.Fail(key, $"names no file, was '{path}'");
        }

        /// <summary>
        /// A silo reachable from other machines (an advertised address that is not loopback) refuses to start without
        /// TLS, unless <c>Moe:Security:AllowInsecureRemote</c> says so explicitly.
        /// </summary>
        public static void CheckBind(SiloHostOptions host, MoeSecurityOptions security)
        {
            if (security.Tls || security.AllowInsecureRemote) return;
            bool loopback = host.Clustering.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                || (IPAddress.TryParse(host.AdvertisedAddress, out IPAddress? address) && IPAddress.IsLoopback(address));
            if (!loopback)
                throw new OptionsValidationException(MoeSecurityOptions.Section, typeof(MoeSecurityOptions),
                    [$"{MoeSecurityOptions.Section}:Tls is off while {SiloHostOptions.Section}:AdvertisedAddress is '{host.AdvertisedAddress}', not loopback: turn TLS on (docs/security.md) or set {MoeSecurityOptions.Section}:AllowInsecureRemote=true to run unauthenticated anyway"]);
        }
    }

    /// <summary>Section <c>Telemetry</c>: where traces, metrics and logs go, and who may read them.</summary>
    internal sealed class TelemetryHost : IValidateOptions<TelemetryHostOptions>
    {
        public ValidateOptionsResult Validate(string? name, TelemetryHostOptions o)
        {
            var c = new OptionChecks(TelemetryHostOptions.Section);
            if (!string.IsNullOrWhiteSpace(o.OtlpEndpoint)
                && !(Uri.TryCreate(o.OtlpEndpoint, UriKind.Absolute, out Uri? otlp) && otlp.Scheme is "http" or "https"))
                c.Fail(nameof(o.OtlpEndpoint), $"must be an http or https URL, was '{o.OtlpEndpoint}'");
            c.Share(o.TraceSampleRatio, nameof(o.TraceSampleRatio));
            ErrorTraceOptions errors = o.ErrorTraces;
            if (!(errors.SlowRequestSeconds > 0 && double.IsFinite(errors.SlowRequestSeconds)))
                c.Fail($"{nameof(o.ErrorTraces)}:{nameof(errors.SlowRequestSeconds)}", $"must be a positive number of seconds, was {errors.SlowRequestSeconds}");
            c.Between(errors.MaxBufferedRequests, 1, 100_000, $"{nameof(o.ErrorTraces)}:{nameof(errors.MaxBufferedRequests)}");
            c.Between(errors.MaxSpansPerRequest, 1, 10_000, $"{nameof(o.ErrorTraces)}:{nameof(errors.MaxSpansPerRequest)}");
            for (int i = 0; i < o.Tokens.Length; i++)
                if (string.IsNullOrWhiteSpace(o.Tokens[i])) c.Fail($"{nameof(o.Tokens)}:{i}", "must not be empty");
            for (int i = 0; i < o.OperatorTokens.Length; i++)
            {
                if (string.IsNullOrWhiteSpace(o.OperatorTokens[i])) c.Fail($"{nameof(o.OperatorTokens)}:{i}", "must not be empty");
                else if (o.Tokens.Contains(o.OperatorTokens[i], StringComparer.Ordinal))
                    c.Fail($"{nameof(o.OperatorTokens)}:{i}", $"is also in {c.Key(nameof(o.Tokens))}; give each role its own token");
            }
            if (!string.IsNullOrWhiteSpace(o.TokenFile) && Directory.Exists(o.TokenFile))
                c.Fail(nameof(o.TokenFile), $"must name a file, not a directory, was '{o.TokenFile}'");
            return c.Result;
        }
    }

    /// <summary>The top-level <c>--prompt</c> keys.</summary>
    internal sealed class OneShot : IValidateOptions<OneShotOptions>
    {
        public ValidateOptionsResult Validate(string? name, OneShotOptions o)
        {
            var c = new OptionChecks("");
            c.AtLeast(o.MaxTokens, 1, nameof(o.MaxTokens));
            c.AtLeast(o.Temperature, 0, nameof(o.Temperature));
            c.Share(o.TopP, nameof(o.TopP), allowZero: false);
            return c.Result;
        }
    }
}
