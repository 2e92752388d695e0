using System.CommandLine;
using HeadWise.Cli.Commands;

try
{
    // A plain Command named "headwise" rather than RootCommand, which takes its name from the assembly (HeadWise.Cli).
    var root = new Command("headwise", "HeadWise: load a transformer checkpoint, see and score its attention heads, run it with head-wise KV caches.")
    {
        new System.CommandLine.Help.HelpOption(),
        new VersionOption(),
        InfoCommand.Create(),
        GenerateCommand.Create(),
        AttentionCommand.Create(),
        AttributeCommand.Create(),
        BenchCommand.Create(),
        SweepCommand.Create(),
        SteerCommand.Create(),
        ConvertCommand.Create(),
        EmbedCommand.Create(),
        ProfileCommand.Create(),
        PatternCommand.Create(),
        TrainCommand.Create(),
        IclRegressionCommand.Create(),
    };
    var parsed = root.Parse(args);
    return parsed.Errors.Count > 0 ? CliRun.ParseErrors(parsed) : parsed.Invoke();
}
catch (Exception e)
{
    return CliRun.Report(e);
}
