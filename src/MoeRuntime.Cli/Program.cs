using System.CommandLine;
using MoeRuntime.Cli.Commands;

var root = new RootCommand("moe: MoeRuntime's command line")
{
    ModelCommands.Create(),
    GenerateCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
