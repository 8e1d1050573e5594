namespace MoeRuntime.Benchmarks;

/// <summary>Command line: <c>moe-bench model [--quick] [--threads N] [--markdown FILE]</c>.</summary>
sealed record BenchOptions(bool Quick, int Threads, string? MarkdownPath)
{
    public const string Usage = "usage: moe-bench model [--quick] [--threads N] [--markdown FILE]";

    public SamplingPlan Plan => Quick ? SamplingPlan.Quick : SamplingPlan.Full;

    public static BenchOptions Parse(string[] args)
    {
        if (args.Length == 0 || args[0] != "model") throw new ArgumentException(Usage);
        bool quick = false;
        int threads = Environment.ProcessorCount;
        string? markdown = null;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n > 0:
                    threads = n;
                    i++;
                    break;
                case "--markdown" when i + 1 < args.Length:
                    markdown = args[++i];
                    break;
                default:
                    throw new ArgumentException($"unknown or incomplete option '{args[i]}'\n{Usage}");
            }
        }
        return new BenchOptions(quick, threads, markdown);
    }
}
