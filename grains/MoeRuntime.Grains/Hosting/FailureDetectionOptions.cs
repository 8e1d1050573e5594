using Orleans.Configuration;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// How fast the cluster declares a rank dead (section <c>Moe:FailureDetection</c>), applied to Orleans'
/// <see cref="ClusterMembershipOptions"/>. An expert whose rank died answers again only once the rank is declared dead
/// (its grain then re-activates on a survivor), so detection time is what a lost rank costs the streams that need its
/// experts. Orleans' defaults suit long-lived stateful services (about 15-20 s to suspect, votes kept 2 minutes); the
/// serving defaults here declare a killed rank dead in about 4-6 s on one machine. On hosts that pause processes for
/// seconds (overloaded, swapping), raise <see cref="ProbeTimeout"/> or <see cref="NumMissedProbesLimit"/>: a live rank
/// declared dead stops itself. See docs/reliability.md.
/// </summary>
public sealed class FailureDetectionOptions
{
    /// <summary>How long a probe of another rank may take, and the probing period (Orleans default 5 s).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Missed probes in a row before a rank suspects another and votes it dead (Orleans default 3).</summary>
    public int NumMissedProbesLimit { get; set; } = 2;
    /// <summary>Votes that declare a rank dead (Orleans default 2; Orleans asks for fewer when fewer ranks remain).</summary>
    public int NumVotesForDeathDeclaration { get; set; } = 2;
    /// <summary>How long a vote counts (Orleans default 2 minutes): votes of one incident come seconds apart.</summary>
    public TimeSpan DeathVoteExpirationTimeout { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>How often a rank writes its I-am-alive time to the membership table (Orleans default 30 s); clients' gateway lists read it.</summary>
    public TimeSpan IAmAliveTablePublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Writes these values over Orleans' membership options.</summary>
    public void ApplyTo(ClusterMembershipOptions membership)
    {
        membership.ProbeTimeout = ProbeTimeout;
        // Orleans adapts the probe timeout between these bounds; keep the configured one inside them.
        if (membership.MinProbeTimeout > ProbeTimeout) membership.MinProbeTimeout = ProbeTimeout;
        if (membership.MaxProbeTimeout < ProbeTimeout) membership.MaxProbeTimeout = ProbeTimeout;
        membership.NumMissedProbesLimit = NumMissedProbesLimit;
        membership.NumVotesForDeathDeclaration = NumVotesForDeathDeclaration;
        membership.DeathVoteExpirationTimeout = DeathVoteExpirationTimeout;
        membership.IAmAliveTablePublishTimeout = IAmAliveTablePublishTimeout;
    }
}
