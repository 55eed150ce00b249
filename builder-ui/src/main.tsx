import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { App } from './App';
import { I18nProvider } from './i18n';
import { RouterProvider } from './router';
import { ToastProvider } from './components/Toasts';
import { NodeTypesProvider } from './nodeTypes';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18nProvider>
      <RouterProvider>
        <ToastProvider>
          <NodeTypesProvider>
            <App />
          </NodeTypesProvider>
        </ToastProvider>
      </RouterProvider>
    </I18nProvider>
  </StrictMode>,
);
