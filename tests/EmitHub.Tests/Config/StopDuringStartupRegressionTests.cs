using EmitHub.Cli;
using EmitHub.Cli.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmitHub.Tests.Config;

/// <summary>User test: SIGTERM in the first milliseconds of startup logged "Hosting failed to start" and exited 1.</summary>
[Collection(EmitHub.Tests.Persistence.PersistenceProcessCollection.Name)]
public class StopDuringStartupRegressionTests
{
    private sealed class StoppedDuringStartRuntime(IHostApplicationLifetime lifetime) : IHubRuntime
    {
        public async ValueTask StartAsync(CancellationToken cancellationToken)
        {
            // What SIGTERM does through the console lifetime, while the store is still recovering.
            lifetime.StopApplication();
            await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
        }

        public ValueTask StopAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_stop_signal_while_starting_is_a_graceful_stop_with_exit_code_0()
    {
        // The runtime is replaced, so nothing binds or touches a store.
        var code = await EmitHubCli.RunAsync(["--port", "1"], s => s.AddSingleton<IHubRuntime, StoppedDuringStartRuntime>());

        Assert.Equal(0, code);
    }
}
