namespace MoeRuntime.Telemetry.Collection;

/// <summary>Splits an assembly's informational version ("1.2.3+commit") into the labels of <c>moe_build_info</c>.</summary>
public static class BuildVersion
{
    /// <summary>The value of either label when the assembly does not say.</summary>
    public const string Unknown = "unknown";

    /// <summary>Longest commit kept: a full git SHA-1 (a SHA-256 one is cut to its first 40 hex digits).</summary>
    public const int MaxCommitLength = 40;

    /// <summary>Version before the first '+', commit after it; <see cref="Unknown"/> for a part that is missing or empty.</summary>
    public static (string Version, string Commit) Parse(string? informationalVersion)
    {
        if (string.IsNullOrWhiteSpace(informationalVersion)) return (Unknown, Unknown);
        int plus = informationalVersion.IndexOf('+', StringComparison.Ordinal);
        string version = (plus < 0 ? informationalVersion : informationalVersion[..plus]).Trim();
        string commit = plus < 0 ? "" : informationalVersion[(plus + 1)..].Trim();
        if (commit.Length > MaxCommitLength) commit = commit[..MaxCommitLength];
        return (version.Length == 0 ? Unknown : version, commit.Length == 0 ? Unknown : commit);
    }
}
