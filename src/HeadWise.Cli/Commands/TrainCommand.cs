using System.CommandLine;
using HeadWise.Training;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise train`: train a Llama-architecture model from scratch on CPU from a JSON config; resumes from --out's checkpoint.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c") { Description = "Training config (JSON; see configs/)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: checkpoint, log, exports (GGUF, Hugging Face), loss curve", Required = true };
        var stopAt = new Option<int?>("--stop-at-step") { Description = "Stop (with a checkpoint) before this step; run again to resume" };
        var exportOnly = new Option<bool>("--export-only") { Description = "Measure and export the latest checkpoint in --out without training" };
        var probeSamples = new Option<int>("--probe-samples") { Description = "Samples per task for the final greedy accuracy check", DefaultValueFactory = _ => 50 };
        var probeLengths = new Option<int[]>("--probe-lengths") { Description = "Sequence lengths for the greedy accuracy check (default: context/4 and context)", AllowMultipleArgumentsPerToken = true };
        var harnessSamples = new Option<int>("--harness-samples") { Description = "Prompts per length and depth for the card's evaluation-harness table (0: skip it)", DefaultValueFactory = _ => 10 };
        var noDuo = new Option<bool>("--no-duo-gates") { Description = "Skip the card's short DuoAttention gate training (minutes on long contexts)" };
        var set = new Option<string[]>("--set") { Description = "Replace a top-level config field, field=value (JSON value or a word); repeatable, e.g. --set weight_decay=0.5", AllowMultipleArgumentsPerToken = false };
        var command = new Command("train", "Train a small Llama-architecture model from scratch (resumes from the checkpoint in --out)") { config, output, stopAt, exportOnly, probeSamples, probeLengths, harnessSamples, noDuo, set };
        command.SetAction(r => CliRun.Guard(() => Run(r.GetValue(config)!, r.GetValue(output)!, r.GetValue(stopAt), r.GetValue(exportOnly), r.GetValue(probeSamples), r.GetValue(probeLengths), r.GetValue(harnessSamples), !r.GetValue(noDuo), r.GetValue(set) ?? [])));
        return command;
    }

    private static int Run(string configPath, string outDir, int? stopAt, bool exportOnly, int probeSamples, int[]? probeLengths, int harnessSamples, bool duoGates, string[] sets)
    {
        var config = TrainConfig.Load(configPath, sets);   // validated before anything else happens
        if (probeLengths is { Length: > 0 } && probeLengths.Any(l => l < 16 || l > config.Context))
            throw new HeadWiseException($"--probe-lengths must be in 16..{config.Context} (the model's context)");
        if (probeLengths is { Length: 0 }) probeLengths = null;
        if (probeSamples < 1) throw new HeadWiseException($"--probe-samples must be at least 1, got {probeSamples}");
        if (harnessSamples < 0) throw new HeadWiseException($"--harness-samples must be at least 0, got {harnessSamples}");
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.Error.WriteLine("\nstopping after this step (checkpoint follows)..."); };
        var threads = Environment.GetEnvironmentVariable("HEADWISE_THREADS");
        var command = $"{(threads is null ? "" : $"HEADWISE_THREADS={threads} ")}./headwise train --config {configPath}{string.Concat(sets.Select(s => $" --set '{s}'"))} --out {outDir}";
        var bar = new ProgressBar("train");
        var result = TrainingRun.Run(config, outDir, bar.Note, ProgressPrinter(bar), stopAt, cancel.Token, command, exportOnly,
            new ExportOptions(probeSamples, probeLengths, harnessSamples, duoGates));
        Console.WriteLine(result);
        return 0;
    }

    /// <summary>The shared progress bar, with the loss, learning rate and speed as its label.</summary>
    private static Action<TrainProgress> ProgressPrinter(ProgressBar bar) =>
        p => bar.Report(p.Step, p.Steps, $"loss {p.Loss:F4} lr {p.Lr:0.00e0} {p.TokensPerSecond:N0} tok/s");
}
