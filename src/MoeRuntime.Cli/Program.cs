using System.CommandLine;
using MoeRuntime.Cli.Commands;
using MoeRuntime.Grains;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Tokenization;

var root = new RootCommand("moe: MoeRuntime's command line")
{
    ModelCommands.Create(),
    GenerateCommand.Create(),
    ClusterCommands.Cluster(),
    ClusterCommands.Models(),
    ClusterCommands.Tiers(),
    PlacementCommands.Placement(),
    PrefetchCommands.Prefetch(),
    ControlCommands.Create(),
    TraceCommands.Create(),
    ReplayCommand.Create(),
    CertCommand.Create(),
};
try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (TimeoutException e)
{
    // Orleans names the call that went unanswered; what the user needs is that the cluster went quiet.
    Console.Error.WriteLine($"error: the cluster stopped answering ({e.Message.Split(" for message", 2)[0]}); a silo may have stopped or crashed");
    return 2;
}
catch (Exception e) when (e is MoeRequestException or CheckpointException or TokenizerFormatException or ArgumentException or OrleansException
                           or EnumerationAbortedException)
{
    // Errors the user can act on get one line, not a stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
