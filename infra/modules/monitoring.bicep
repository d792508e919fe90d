// Application Insights on a Log Analytics workspace: host logs, and the app's traces, custom
// events and metrics through @azure/monitor-opentelemetry.
param name string
param location string
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

// The connection string names the resource (instrumentation key and ingestion endpoint); it is not a credential.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
