using HeadWise;

namespace HeadWise.Cli.Commands;

/// <summary>
/// Runs a command body: a user error becomes one line on stderr and exit code 1, anything else exit code 2.
/// HEADWISE_DEBUG=1 adds the stack trace.
/// </summary>
internal static class CliRun
{
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            bool user = e is HeadWiseException or IOException or UnauthorizedAccessException or ArgumentException;
            Console.Error.WriteLine(user ? $"error: {e.Message}" : $"error: internal error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("HEADWISE_DEBUG") == "1") Console.Error.WriteLine(e);
            return user ? 1 : 2;
        }
    }
}
