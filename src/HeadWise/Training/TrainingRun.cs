namespace HeadWise.Training;

/// <summary>The whole `headwise train` job: train (or resume), then, once the last step is done, measure and export.</summary>
public static class TrainingRun
{
    public static string Run(TrainConfig config, string outDir, Action<string>? log = null, Action<TrainProgress>? progress = null,
        int? stopAtStep = null, CancellationToken cancel = default)
    {
        log ??= _ => { };
        using var trainer = new Trainer(config, outDir, log);
        double seconds = trainer.Finished ? trainer.ElapsedBefore : trainer.Run(progress, stopAtStep, cancel);
        if (!trainer.Finished && !(config.MaxMinutes > 0 && seconds >= config.MaxMinutes * 60))
            return $"stopped at step {trainer.Step} of {config.Steps} ({seconds:F0} s); run the same command again to resume";
        return TrainingOutputs.Write(trainer, config, outDir, seconds, log);
    }
}
