using System.CommandLine;
using HeadWise.Cli.Commands;

var root = new RootCommand("HeadWise: load a transformer checkpoint, see and score its attention heads, run it with head-wise KV caches.")
{
    InfoCommand.Create(),
    GenerateCommand.Create(),
    AttentionCommand.Create(),
    AttributeCommand.Create(),
    BenchCommand.Create(),
    SweepCommand.Create(),
    ConvertCommand.Create(),
    EmbedCommand.Create(),
    ProfileCommand.Create(),
    PatternCommand.Create(),
    TrainCommand.Create(),
};
return root.Parse(args).Invoke();
