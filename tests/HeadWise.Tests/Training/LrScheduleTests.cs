using HeadWise.Training;

namespace HeadWise.Tests.Training;

public class LrScheduleTests
{
    [Fact]
    public void Warm_up_is_linear_and_the_cosine_ends_at_the_minimum()
    {
        var c = TinyTraining.Config(steps: 111) with { LearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 10 };
        Assert.Equal(1e-3, LrSchedule.At(0, c), 12);          // (0+1)/10 of the peak
        Assert.Equal(5e-3, LrSchedule.At(4, c), 12);
        Assert.Equal(1e-2, LrSchedule.At(10, c), 12);         // cosine starts at the peak
        Assert.Equal(5.5e-3, LrSchedule.At(60, c), 12);       // halfway: mean of peak and minimum
        Assert.Equal(1e-3, LrSchedule.At(110, c), 12);        // last step: the minimum
    }
}
