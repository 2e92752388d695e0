using System.CommandLine;
using HeadWise.Training;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise icl-regression`: issue 20's in-context linear regression task (multi- against single-head softmax attention).</summary>
internal static class IclRegressionCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "Regression config (JSON; see configs/variants/icl-regression.json)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: results.json, README.md", Required = true };
        var command = new Command("icl-regression", "Train one layer of multi-head and of single-head softmax attention on in-context linear regression; compare with least squares and one GD step") { config, output };
        command.SetAction(r => CliRun.Guard(() =>
        {
            var c = RegressionConfig.Load(r.GetValue(config)!);
            var bar = new ProgressBar("icl-regression");
            var result = RegressionRun.Run(c, r.GetValue(output)!, bar.Note);
            var at = result.Scores.Single(s => s.Examples == c.Examples);
            Console.WriteLine($"{c.Examples} examples: multi-head MSE {at.MultiHead:0.0000} ({at.MultiHead / at.LeastSquares:0.00}x least squares {at.LeastSquares:0.0000}), single-head {at.SingleHead:0.0000}, one GD step {at.GradientStep:0.0000}");
            return 0;
        }));
        return command;
    }
}
