namespace HeadWise.Training;

/// <summary>Linear warm-up from 0 to the peak rate, then a cosine decay to the minimum rate at the last step.</summary>
internal static class LrSchedule
{
    public static double At(int step, TrainConfig c)
    {
        if (step < c.WarmupSteps) return c.LearningRate * (step + 1) / c.WarmupSteps;
        double progress = c.Steps <= c.WarmupSteps + 1 ? 1 : (double)(step - c.WarmupSteps) / (c.Steps - 1 - c.WarmupSteps);
        progress = Math.Clamp(progress, 0, 1);
        return c.MinLearningRate + 0.5 * (c.LearningRate - c.MinLearningRate) * (1 + Math.Cos(Math.PI * progress));
    }
}
