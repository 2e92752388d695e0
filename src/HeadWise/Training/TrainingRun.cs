namespace HeadWise.Training;

/// <summary>
/// The whole `headwise train` job: train (or resume), then, once the last step is done, measure and export.
/// <paramref name="exportOnly"/> measures and exports the latest checkpoint without training.
/// </summary>
public static class TrainingRun
{
    public static string Run(TrainConfig config, string outDir, Action<string>? log = null, Action<TrainProgress>? progress = null,
        int? stopAtStep = null, CancellationToken cancel = default, string? command = null,
        bool exportOnly = false, ExportOptions? export = null)
    {
        log ??= _ => { };
        using var trainer = new Trainer(config, outDir, log);
        double seconds = trainer.Finished || exportOnly ? trainer.ElapsedBefore : trainer.Run(progress, stopAtStep, cancel);
        if (!exportOnly && !trainer.Finished && !(config.MaxMinutes > 0 && seconds >= config.MaxMinutes * 60))
            return $"stopped at step {trainer.Step} of {config.Steps} ({seconds:F0} s); run the same command again to resume";
        return TrainingOutputs.Write(trainer, config, outDir, seconds, log, command ?? $"headwise train --out {outDir}", export);
    }
}
