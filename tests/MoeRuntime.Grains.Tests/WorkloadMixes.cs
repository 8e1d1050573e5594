namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Two prompt mixes that route differently on the built-in model: ordinary prose, then numbers, dates, addresses and
/// lists. The workload-shift tests (the controllers re-planning, routing drift) serve one, then the other.
/// </summary>
internal static class WorkloadMixes
{
    public static readonly string[] Prose =
    [
        "The quick brown fox jumps over the lazy dog while the experts route every token.",
        "Once upon a time there was a cluster of silos that served a language model.",
        "A mixture of experts sends each word to the two specialists that know it best.",
        "When the evening came the operators read the dashboards and went home early.",
    ];

    public static readonly string[] Numbers =
    [
        "0123456789 4821 9932 1177 3.14159 2.71828 65536 1024 4096 8192 12345 67890",
        "2026-11-26 14:38:36 +0000 | 200 | 1.732 ms | 10.0.0.17:11111 | 30000 | 99.95",
        "[1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584]",
        "192.168.1.1 10.0.0.254 172.16.8.9 255.255.255.0 8.8.8.8 1.1.1.1 127.0.0.1",
    ];
}
